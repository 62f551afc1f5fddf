// The plot area both report charts draw their data in: a vertical scale from the first tick to
// the last, the horizontal grid with its labels, and the frame with the y-axis title.
import { line, num, palette, text } from "./svg";
import { decimalsOf } from "./ticks";

/** A plot area in SVG user units; y grows downwards, so the bottom is `top + height`. */
export interface PlotArea {
    left: number;
    top: number;
    width: number;
    height: number;
}

/** The y coordinate of a value on an axis that runs from the first tick (bottom) to the last (top). */
export function yScale(area: PlotArea, ticks: number[]): (v: number) => number {
    const bottom = area.top + area.height;
    const d0 = ticks[0];
    const d1 = ticks[ticks.length - 1];
    return (v) => bottom - ((v - d0) / (d1 - d0)) * area.height;
}

/**
 * A grid line across the plot at every tick, labelled left of it with as many decimals as the
 * ticks need (`unit` follows the number). Drawn first, so that everything else covers it.
 */
export function yGrid(area: PlotArea, ticks: number[], y: (v: number) => number, unit = ""): string[] {
    const decimals = decimalsOf(ticks);
    return ticks.flatMap((tick) => [
        line(area.left, y(tick), area.left + area.width, y(tick), { stroke: palette.grid }),
        text(area.left - 6, y(tick) + 4, `${tick.toFixed(decimals)}${unit}`, { "font-size": 11, "text-anchor": "end", fill: palette.text }),
    ]);
}

/** The frame around the plot and the y-axis title, written upwards beside its middle. */
export function plotFrame(area: PlotArea, title: string, fontSize: number): string[] {
    const midY = area.top + area.height / 2;
    return [
        `<rect x="${num(area.left)}" y="${num(area.top)}" width="${num(area.width)}" height="${area.height}" fill="none" stroke="${palette.axis}"/>`,
        text(20, midY, title, { "font-size": fontSize, "text-anchor": "middle", fill: palette.text, transform: `rotate(-90 20 ${num(midY)})` }),
    ];
}
