// A state backend's URL may carry a password (`postgres://user:password@host/db`). No message shows
// it: not our own warnings, nor the engine's errors we relay ("unable to open bucket postgres://...").
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as net from "net";
import { hideUrlPasswords, quotedText, terminalText } from "../components/syntax";
import { makeProject, sourceCli, TestProject } from "./support/engine";

describe("a backend URL's password in messages", () => {
    it("is hidden in every URL of a text, and nothing else changes", () => {
        assert.strictEqual(
            hideUrlPasswords("unable to open bucket postgres://ci:s3cr3t@127.0.0.1:5432/pulumi?sslmode=disable: dial tcp"),
            "unable to open bucket postgres://ci:***@127.0.0.1:5432/pulumi?sslmode=disable: dial tcp",
        );
        // An unencoded `@` in the password: the user's part ends at the last `@` before the path.
        assert.strictEqual(hideUrlPasswords("postgres://u:p@ss@h/db x"), "postgres://u:***@h/db x");
        assert.strictEqual(hideUrlPasswords("postgres://127.0.0.1/db?user=ci&password=s3cr3t&sslmode=disable"), "postgres://127.0.0.1/db?user=ci&password=***&sslmode=disable");
        assert.strictEqual(hideUrlPasswords("s3://bucket/path file:///tmp/state http://host:8080/a@b postgres://ci@db/pulumi"), "s3://bucket/path file:///tmp/state http://host:8080/a@b postgres://ci@db/pulumi");
        assert.strictEqual(terminalText("a https://u:p4ss@h/x\n"), "a https://u:***@h/x\n");
        assert.strictEqual(quotedText("b postgres://u:p4ss@h/x", 100), "b postgres://u:***@h/x");
    });

    describe("through the command, with the backend down", function () {
        this.timeout(120_000);
        let project: TestProject;
        let url: string;
        before(async () => {
            project = makeProject("prod");
            project.writeConfig({ app: "model", stable: { version: "v1", image: "r/m:v1" }, canary: { version: "v2", image: "r/m:v2" }, canaryWeight: 0 });
            // A loopback port nothing listens on.
            const server = net.createServer();
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            const port = (server.address() as net.AddressInfo).port;
            await new Promise<void>((resolve) => server.close(() => resolve()));
            url = `postgres://ci:Pa55-w0rd@127.0.0.1:${port}/pulumi?sslmode=disable`;
        });
        after(() => project?.remove());

        for (const command of [["up"], ["status"], ["rollback"]]) {
            it(`\`${command.join(" ")}\` fails naming the backend, without its password`, () => {
                const r = spawnSync(process.execPath, [sourceCli, ...command, "--stack", "prod", "--cwd", project.dir, "--backend", url], {
                    env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir, PULUMI_CONFIG_PASSPHRASE: "" }, encoding: "utf8",
                });
                assert.notStrictEqual(r.status, 0, r.stderr);
                assert.match(r.stderr, /postgres:\/\/ci:\*\*\*@127\.0\.0\.1:\d+\/pulumi/);
                assert.doesNotMatch(r.stdout + r.stderr, /Pa55-w0rd/);
            });
        }
    });
});
