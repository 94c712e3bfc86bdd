package workflows

// DeployPlanOf exposes deployPlan to the external tests.
var DeployPlanOf = deployPlan
