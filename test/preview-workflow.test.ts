// The pull-request workflow: the preview (the pull request's own code, with the backend secrets)
// runs only for branches of this repository and gets no token that can write; the comment job
// runs the workflow's script, which edits only a comment its own bot wrote.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { projectDir } from "../stacks/operations/automation";

const workflow = YAML.parse(fs.readFileSync(path.join(projectDir, ".github/workflows/preview.yml"), "utf8"));

interface Comment { id: number; user: { type: string; login: string } | null; body: string }

/** Runs the comment step's script as actions/github-script would, against a fake API. */
async function postComment(comments: Comment[], body: string): Promise<string[]> {
    const step = workflow.jobs.comment.steps.find((s: { uses?: string }) => s.uses?.startsWith("actions/github-script@"));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-workflow-"));
    fs.writeFileSync(path.join(dir, "preview-dev.md"), body);
    const calls: string[] = [];
    const github = {
        paginate: async () => comments,
        rest: {
            issues: {
                listComments: {},
                updateComment: async (a: { comment_id: number }) => void calls.push(`update ${a.comment_id}`),
                createComment: async (a: { issue_number: number }) => void calls.push(`create on ${a.issue_number}`),
            },
        },
    };
    const context = { repo: { owner: "o", repo: "r" }, payload: { pull_request: { number: 7 } } };
    const cwd = process.cwd();
    const env = process.env.STACK;
    try {
        process.chdir(dir);
        process.env.STACK = step.env.STACK === "${{ matrix.stack }}" ? "dev" : step.env.STACK;
        const run = new Function("require", "github", "context", "process", `return (async () => {\n${step.with.script}\n})();`);
        await run(require, github, context, process);
    } finally {
        process.chdir(cwd);
        if (env === undefined) delete process.env.STACK;
        else process.env.STACK = env;
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return calls;
}

const marker = "<!-- model-canary-preview:dev -->";
const bot = { type: "Bot", login: "github-actions[bot]" };

describe("pull-request preview workflow", () => {
    it("previews only pull requests from this repository's branches, never a fork's", () => {
        assert.strictEqual(workflow.jobs.preview.if, "github.event.pull_request.head.repo.full_name == github.repository");
    });

    it("gives the job that runs the pull request's code no write access and leaves no token on disk", () => {
        assert.deepStrictEqual(workflow.permissions, {});
        assert.deepStrictEqual(workflow.jobs.preview.permissions, { contents: "read" });
        const checkout = workflow.jobs.preview.steps.find((s: { uses?: string }) => s.uses?.startsWith("actions/checkout@"));
        assert.strictEqual(checkout.with["persist-credentials"], false);
        assert.deepStrictEqual(workflow.jobs.comment.permissions, { "pull-requests": "write" });
        assert.ok(!workflow.jobs.comment.steps.some((s: { run?: string; uses?: string }) => s.run !== undefined || s.uses?.startsWith("actions/checkout@")), "the comment job runs no code of the pull request");
    });

    it("updates the comment its own bot wrote", async () => {
        assert.deepStrictEqual(await postComment([{ id: 1, user: bot, body: `${marker}\nold` }], `${marker}\nnew`), ["update 1"]);
    });

    it("never edits a comment someone else wrote, even one that starts with the marker", async () => {
        const comments: Comment[] = [
            { id: 1, user: { type: "User", login: "mallory" }, body: `${marker}\n# Approved by security` },
            { id: 2, user: { type: "Bot", login: "other-app[bot]" }, body: `${marker}\nfrom another bot` },
            { id: 3, user: null, body: `${marker}\nghost` },
        ];
        assert.deepStrictEqual(await postComment(comments, `${marker}\nnew`), ["create on 7"]);
        assert.deepStrictEqual(await postComment([...comments, { id: 4, user: bot, body: `${marker}\nmine` }], `${marker}\nnew`), ["update 4"]);
    });

    it("ignores its bot's comments that only mention the marker, and refuses a body without it", async () => {
        assert.deepStrictEqual(await postComment([{ id: 5, user: bot, body: `quoting ${marker}` }], `${marker}\nnew`), ["create on 7"]);
        await assert.rejects(postComment([], "# no marker"), /does not start with <!-- model-canary-preview:dev -->/);
    });
});
