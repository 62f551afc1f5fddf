// The package's public API, pinned: the names `model-canary`, `model-canary/program` and
// `model-canary/automation` export (api/index.ts, api/program.ts, api/automation.ts). Every name,
// types included, as the TypeScript checker reads the entry point, and of them the values a
// JavaScript user gets at run time. Moving code between files must leave both lists as they are;
// a name added or removed on purpose is a change to the package's contract: change the list here
// in the same commit, with a CHANGELOG line.
import * as assert from "assert";
import * as path from "path";
import * as ts from "typescript";

const root = path.join(__dirname, "..");

const publicApi: Record<string, { file: string; values: string[]; types: string[] }> = {
    "model-canary": {
        file: "api/index.ts",
        values: [
            "ModelCanary", "ValidationError", "envSecretName", "istioApiVersions", "limits",
            "routerKinds", "validateModelCanaryArgs",
        ],
        types: [
            "AutoReplicas", "ConnectionPoolArgs", "HeaderRoute", "HttpConnectionPoolArgs", "IstioApiVersion",
            "Mirror", "ModelCanaryArgs", "ModelVersionArgs", "OutlierDetectionArgs", "ResolvedModelCanaryArgs",
            "ResolvedModelVersion", "RouterKind", "RoutingObjectName", "StickyArgs", "TcpConnectionPoolArgs",
            "TrafficPolicyArgs", "TrafficSplit",
        ],
    },
    "model-canary/program": {
        file: "api/program.ts",
        values: [
            "ClusterApiError", "appliedConfig", "checkIstioApi", "componentArgs", "configNamespace",
            "inlineProgram", "kubeconfigInput", "loadStackConfig", "modelCanariesFromConfig", "modelCanaryOutputs",
            "modelOutputs", "programError", "renderedSecretPaths", "selectModel", "shorthandModel",
            "stackProvider",
        ],
        types: [
            "ModelCanariesOptions", "ModelConfig", "ModelOutputs", "StackConfig", "StackProvider",
        ],
    },
    "model-canary/automation": {
        file: "api/automation.ts",
        values: [
            "ModelSelectionError", "PrometheusClient", "PrometheusError", "StackLockedError",
            "StackOperationError", "UnreadableRecordError", "acquireStackLock", "backendFor", "checkConfig",
            "defaultPlan", "lockHolder", "lockHolders", "modelOutputsOf", "openStack", "preemptStackLock",
            "previewStack", "promoteStack", "readOutputs", "readRecord", "recordFile", "resolvePlan",
            "rollbackFromLastApplied", "rollbackStack", "runRollout", "selectModel", "selectModelName",
            "setModelConfig", "shorthandModel", "stackStatus", "toolchainDir", "upStack", "withApplyLock",
        ],
        types: [
            "AnalysisRecord", "AnalysisThresholds", "AppliedRouting", "CheckResult", "CheckStatus",
            "ConfigState", "CustomCheck", "InstantQuerier", "LiveStatus", "LockStatus", "ModelConfig",
            "ModelStatus", "OperationResult", "PlanFlags", "RecoveryResult", "ResourceStep",
            "RollbackRecord", "RolloutEvent", "RolloutOptions", "RolloutOutcome", "RolloutPlan",
            "RolloutRecord", "RolloutStatus", "ShadowStage", "SingleModelStatus", "StackConfig",
            "StackErrorKind", "StackLock", "StackModelsStatus", "StackRef", "StackStatus", "StepRecord",
            "TrafficChange", "UpResult",
        ],
    },
};

describe("the public API", function () {
    // The checker reads the entry points with everything they import (the Pulumi SDKs' declarations included).
    this.timeout(120_000);
    let program: ts.Program;
    before(() => {
        const config = ts.getParsedCommandLineOfConfigFile(path.join(root, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n")); } });
        program = ts.createProgram(Object.values(publicApi).map((e) => path.join(root, e.file)), { ...config!.options, noEmit: true });
    });

    for (const [name, entry] of Object.entries(publicApi)) {
        it(`\`${name}\` (${entry.file}) exports these names, types included, and no others`, () => {
            const checker = program.getTypeChecker();
            const module = checker.getSymbolAtLocation(program.getSourceFile(path.join(root, entry.file))!)!;
            const names = checker.getExportsOfModule(module).map((s) => s.name).sort();
            assert.deepStrictEqual(names, [...entry.values, ...entry.types].sort(), `the names ${name} exports changed: if on purpose, update test/public-api.test.ts and the CHANGELOG`);
        });

        it(`\`${name}\` has these values at run time`, () => {
            const loaded = require(path.join(root, entry.file)) as Record<string, unknown>;
            assert.deepStrictEqual(Object.keys(loaded).sort(), [...entry.values].sort());
            for (const v of entry.values) assert.notStrictEqual(loaded[v], undefined, `${name}'s ${v} is undefined`);
        });
    }
});
