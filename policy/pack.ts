// The model-canary policy pack's policies and their wiring to @pulumi/policy (docs/policy-pack.md),
// loaded by index.ts once @pulumi/policy resolves. Each policy's enforcement level and bounds come
// from the policy pack config (`--policy-pack-config`).
import { EnforcementLevel, PolicyPack, PolicyResource, ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
    Bounds, ComponentObjects, componentType, createdByModelCanary, defaultBounds, deploymentType, gpuProblems, headerRouteProblems,
    idleTargetProblems, mirrorProblems, mutableImageProblems, replicaProblems, sameImageProblems, weightProblems,
} from "./rules";

/** A policy on each Deployment a ModelCanary created. */
function deploymentPolicy(
    name: string, description: string, enforcementLevel: EnforcementLevel,
    check: (deployment: any, config: Bounds) => string[], configSchema?: ResourceValidationPolicy["configSchema"],
): ResourceValidationPolicy {
    return {
        name, description, enforcementLevel, configSchema,
        validateResource: (args, report) => {
            if (args.type !== deploymentType || !createdByModelCanary(args.urn)) return;
            const config = { ...defaultBounds, ...args.getConfig<Partial<Bounds>>() };
            for (const problem of check(args.props, config)) report(`Deployment \`${args.props?.metadata?.name ?? args.name}\`: ${problem}`);
        },
    };
}

/** Groups the stack's resources by the ModelCanary that created them. */
function components(resources: PolicyResource[]): ComponentObjects[] {
    const byUrn = new Map<string, ComponentObjects>();
    for (const r of resources) if (r.type === componentType) byUrn.set(r.urn, { urn: r.urn, name: r.name, children: [] });
    for (const r of resources) {
        let parent = r.parent;
        while (parent && !byUrn.has(parent.urn)) parent = parent.parent;
        if (parent) byUrn.get(parent.urn)!.children.push({ type: r.type, name: r.name, urn: r.urn, props: r.props });
    }
    return [...byUrn.values()];
}

/** A policy on the objects of each ModelCanary together. */
function componentPolicy(name: string, description: string, check: (component: ComponentObjects) => string[]): StackValidationPolicy {
    return {
        name, description, enforcementLevel: "mandatory",
        validateStack: (args, report: ReportViolation) => {
            for (const component of components(args.resources)) {
                for (const problem of check(component)) report(`ModelCanary \`${component.name}\`: ${problem}`, component.urn);
            }
        },
    };
}

new PolicyPack("model-canary", {
    policies: [
        componentPolicy("canary-image-differs", "The canary runs a different image than the stable version.", sameImageProblems),
        deploymentPolicy("immutable-image-tags", "Images are pinned by a version tag or a digest, not `latest` or no tag.", "advisory", mutableImageProblems),
        componentPolicy("header-routes-target-declared-versions", "Header routes send requests only to the model's stable or canary version.", headerRouteProblems),
        deploymentPolicy("replicas-within-bounds", "No version's Deployment runs more pods than `maxReplicas`.", "mandatory", replicaProblems, {
            properties: { maxReplicas: { type: "integer", minimum: 0, default: defaultBounds.maxReplicas } },
        }),
        deploymentPolicy("gpu-limits-within-bounds", "No pod asks for more GPUs than `maxGpusPerPod`.", "mandatory", gpuProblems, {
            properties: {
                maxGpusPerPod: { type: "integer", minimum: 0, default: defaultBounds.maxGpusPerPod },
                gpuResources: { type: "array", items: { type: "string" }, default: defaultBounds.gpuResources },
            },
        }),
        componentPolicy("mirror-only-at-weight-zero", "Traffic is mirrored to a canary only while it gets weight 0.", mirrorProblems),
        componentPolicy("route-weights-valid", "Route weights are integers; Istio's total exactly 100; a Gateway API default rule is not all zeros.", weightProblems),
        componentPolicy("versions-with-traffic-run-pods", "A version that gets weight or a header route runs at least one pod.", idleTargetProblems),
    ],
});
