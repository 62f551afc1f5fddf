// Output paths are checked before any work starts, so a typo in a path never costs a whole preview or rollout.
import * as fs from "fs";
import * as path from "path";
import { InputError } from "./command";

/** Refuses a file path that cannot be written: its folder is missing or read-only, or it is a folder. */
export function requireWritableFile(file: string, flag: string): void {
    const dir = path.dirname(path.resolve(file));
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new InputError(`\`${flag}\` must be a file to write, got ${JSON.stringify(file)}, which is a directory`);
    if (!fs.existsSync(dir)) throw new InputError(`\`${flag}\` must be a file in an existing directory, got ${JSON.stringify(file)}: ${dir} does not exist`);
    try {
        fs.accessSync(fs.existsSync(file) ? file : dir, fs.constants.W_OK);
    } catch {
        throw new InputError(`\`${flag}\` must be a file this user can write, got ${JSON.stringify(file)}: permission denied`);
    }
}

/** Refuses a directory that cannot be created or written; it is created only when the run writes into it. */
export function requireWritableDir(dir: string, flag: string): void {
    let existing = path.resolve(dir);
    while (!fs.existsSync(existing)) existing = path.dirname(existing);
    if (!fs.statSync(existing).isDirectory()) throw new InputError(`\`${flag}\` must be a directory, got ${JSON.stringify(dir)}: ${existing} is a file`);
    try {
        fs.accessSync(existing, fs.constants.W_OK);
    } catch {
        throw new InputError(`\`${flag}\` must be a directory this user can write, got ${JSON.stringify(dir)}: ${existing} is not writable`);
    }
}
