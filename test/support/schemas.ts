// Validators for rendered manifests: Istio's own CRD schemas (from the istio.io/api Go module)
// and Kubernetes' schemas (from the kubernetes-models package), both checked with Ajv.
import Ajv, { ValidateFunction } from "ajv";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

export const istioApiModule = "istio.io/api@v1.31.4";

/** Where the istio.io/api module is in the Go module cache. */
function istioApiDir(): string {
    const info = cachedModule(istioApiModule);
    return info.Dir;
}

/**
 * An API server prunes unknown fields instead of refusing them; to catch a misspelt field, every
 * object schema with listed properties is closed unless it preserves unknown fields.
 */
function closeObjects(schema: any): any {
    if (Array.isArray(schema)) return schema.map(closeObjects);
    if (typeof schema !== "object" || schema === null) return schema;
    const out: any = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === "properties"
        ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, closeObjects(s)]))
        : closeObjects(v)]));
    if (out.properties && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"]) out.additionalProperties = false;
    return out;
}

export type Validate = (object: any) => string[];

/**
 * Validates `spec` of Istio objects against the CRD schema of their kind and version; `kinds`:
 * only those kinds' schemas are compiled (compiling all of them takes seconds).
 */
export function istioValidator(kinds?: string[]): Validate {
    const crds = istioCrds();
    return crdValidator(kinds ? crds.filter((d) => kinds.includes(d?.spec?.names?.kind)) : crds, "Istio");
}

let parsedIstioCrds: any[] | undefined;

/** Istio's CRDs, parsed once per process: the file is large, and parsing it takes seconds. */
function istioCrds(): any[] {
    parsedIstioCrds ??= YAML.parseAllDocuments(fs.readFileSync(path.join(istioApiDir(), "kubernetes", "customresourcedefinitions.gen.yaml"), "utf8")).map((d) => d.toJS());
    return parsedIstioCrds;
}

/** Validates `spec` of an object against the schema of its kind and version among `documents`' CRDs (`what` names them in messages). */
function crdValidator(documents: any[], what: string): Validate {
    const crds = documents.filter((d) => d && d.kind === "CustomResourceDefinition");
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const compiled = new Map<string, ValidateFunction>();
    for (const crd of crds) {
        for (const version of crd.spec.versions) {
            const spec = version.schema?.openAPIV3Schema?.properties?.spec;
            if (spec) compiled.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(closeObjects(spec)));
        }
    }
    return (object) => {
        const validate = compiled.get(`${object.apiVersion}/${object.kind}`);
        if (!validate) return [`no ${what} CRD schema for ${object.apiVersion} ${object.kind}`];
        return validate(object.spec) ? [] : (validate.errors ?? []).map((e) => `spec${e.instancePath} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`);
    };
}

/** The Gateway API module whose CRDs `cluster:up` installs (toolchain/cluster/versions.env `GATEWAY_API_VERSION`). */
export const gatewayApiModule = `sigs.k8s.io/gateway-api@v${fs.readFileSync(path.join(__dirname, "..", "..", "toolchain", "cluster", "versions.env"), "utf8").match(/^GATEWAY_API_VERSION=(\S+)$/m)![1]}`;

/**
 * A Go module from the module cache, never the network (no test sends a packet off the machine):
 * `toolchain:cluster` downloads istio.io/api and `.ci/run` sigs.k8s.io/gateway-api beforehand.
 */
function cachedModule(module: string): { Dir: string } {
    let info: { Dir?: string; Error?: string };
    try {
        info = JSON.parse(execFileSync("go", ["mod", "download", "-json", module], { encoding: "utf8", cwd: "/", env: { ...process.env, GOPROXY: "off", GOFLAGS: "-mod=mod", GOWORK: "off" } }));
    } catch (e) {
        const out = (e as { stdout?: string }).stdout;
        info = out ? JSON.parse(out) : { Error: (e as Error).message };
    }
    if (!info.Dir) throw new Error(`${module} is not in the Go module cache (${info.Error ?? "no directory"}); fetch it first: (cd / && go mod download ${module}), as .ci/run does`);
    return { Dir: info.Dir };
}

/**
 * The standard channel's folder in the sigs.k8s.io/gateway-api module (from the module cache):
 * one CRD per file, and since v1.5 a ValidatingAdmissionPolicy (`..._vap_safeupgrades.yaml`).
 */
export function gatewayApiCrdDir(): string {
    const info = cachedModule(gatewayApiModule);
    return path.join(info.Dir, "config", "crd", "standard");
}

/**
 * Validates `spec` of Gateway API objects against the standard channel's CRD schemas, shipped in
 * the sigs.k8s.io/gateway-api Go module (`config/crd/standard`). The CEL rules
 * (x-kubernetes-validations) are not evaluated here: only an API server does that.
 */
export function gatewayApiValidator(): Validate {
    const dir = gatewayApiCrdDir();
    const crds = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJS()));
    return crdValidator(crds, "Gateway API");
}

// kubernetes-models is an ES module; this keeps TypeScript from turning import() into require().
const importModule = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<any>;

/** Validates Deployments and Services against Kubernetes' OpenAPI schemas. */
export async function kubernetesValidator(): Promise<Validate> {
    const { Deployment } = await importModule("kubernetes-models/apps/v1");
    const { Service } = await importModule("kubernetes-models/v1");
    const models: Record<string, any> = { "apps/v1/Deployment": Deployment, "v1/Service": Service };
    return (object) => {
        const Model = models[`${object.apiVersion}/${object.kind}`];
        if (!Model) return [`no Kubernetes schema for ${object.apiVersion} ${object.kind}`];
        try {
            new Model(object).validate();
            return [];
        } catch (e) {
            return [(e as Error).message];
        }
    };
}
