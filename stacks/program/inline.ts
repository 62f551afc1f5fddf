// `inlineProgram`: how a program's entry file says that the `model-canary` commands may run it in
// their own process (stacks/operations/inline-program.ts) rather than start a Node.js language host
// for it at every `up`. It changes nothing at run time: `pulumi up` by hand calls the exported
// function as before. What it promises: the program's work is done in the function (and at the
// entry file's top level, which runs again at each update), the modules it imports register no
// resources when they load, and it does not read `process.argv`.

/** Marks `program`, the entry file's export (`export = inlineProgram(async () => { ... })`), as one the commands may run in their own process. */
export function inlineProgram<T>(program: () => T): () => T {
    return program;
}
