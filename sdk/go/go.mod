module github.com/model-canary/model-canary/sdk/go

go 1.25

require github.com/pulumi/pulumi/sdk/v3 v3.248.0
