// Round axis ticks for the report's charts.

/**
 * Round tick values (steps of 1, 2 or 5 times a power of ten) that cover [min, max] with about
 * `count` intervals (the step nearest to (max - min) / count): the first tick is <= min and the last >= max, so an axis drawn from the
 * first to the last tick contains every value and ends on a label. Equal or reversed bounds are
 * widened so that there are always at least two ticks.
 */
export function niceTicks(min: number, max: number, count: number): number[] {
    if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
    if (max < min) [min, max] = [max, min];
    if (max === min) {
        const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
        min -= pad;
        max += pad;
    }
    const intervals = Math.max(1, Math.round(count));
    const raw = (max - min) / intervals;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / power;
    // Round to the nice step nearest on a log scale, so the tick count stays close to `count`.
    const step = (norm >= Math.sqrt(50) ? 10 : norm >= Math.sqrt(10) ? 5 : norm >= Math.sqrt(2) ? 2 : 1) * power;
    const decimals = Math.max(0, -Math.floor(Math.log10(step)));
    // The epsilon keeps 100 / 0.2 = 500.00000000000006 from adding an extra tick.
    const first = Math.floor(min / step + 1e-9);
    const last = Math.ceil(max / step - 1e-9);
    const ticks: number[] = [];
    for (let k = first; k <= last; k++) ticks.push(Number((k * step).toFixed(decimals)));
    return ticks;
}


/** Enough decimals to tell the ticks apart (0.5 steps need one, 20 steps none). */
export function decimalsOf(ticks: number[]): number {
    if (ticks.length < 2) return 0;
    const step = Math.abs(ticks[1] - ticks[0]);
    return step > 0 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))) : 0;
}

