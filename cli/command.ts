import { ParseArgsConfig } from "util";
import { StackRef } from "../stacks/operations/automation";

export type Options = NonNullable<ParseArgsConfig["options"]>;
export type Values = Record<string, string | boolean | undefined>;

/** One subcommand: its help and what it runs. It returns the exit code or throws. */
export interface Command {
    summary: string;
    usage: string;
    /** Extra lines for `--help`. */
    help?: string[];
    options: Options;
    /** One line per option for `--help`, by option name. */
    optionHelp?: Record<string, string>;
    run(values: Values, ref: StackRef, signal: AbortSignal): Promise<number>;
}

/** A refused input (an unwritable output path, say): printed without a stack trace, exit code 1. */
export class InputError extends Error {}
