// How a live object's fields are compared with the rendered ones: the API server keeps no key
// order and drops unset fields, so two values are the same when their canonical JSON is. Pure.

/** JSON with object keys sorted and undefined fields left out. */
export function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (value && typeof value === "object") {
        return `{${Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}
