# The allow/deny matrix in matrix.json, run by `opa test` against the Rego
# source. The gateway's Node tests run the same file through the compiled
# Wasm (packages/policy/src/policyMatrix.test.ts), so the two cannot disagree.
package coherence.authz_test

import data.coherence.authz

matrix_failures contains c.name if {
	some c in data.authz_matrix.cases
	got := authz.decision with input as c.input
	not matches(got, c.expect)
}

matches(got, expect) if {
	got.allow == expect.allow
	got.reasonCode == expect.reasonCode
	is_string(got.explanation)
}

test_every_matrix_case_decides_as_expected if {
	count(data.authz_matrix.cases) > 20
	count(matrix_failures) == 0
}

test_allowed_explanation_names_fields_and_subject if {
	got := authz.decision with input as data.authz_matrix.cases[0].input
	got.explanation == "allowed tenantCoherence for user-1"
}

test_input_without_principal_is_denied if {
	got := authz.decision with input as {"operation": {"rootFields": ["tenantCoherence"]}}
	got.allow == false
	got.reasonCode == "POLICY_ERROR"
}

test_operate_fields_check_the_token_region_without_a_tenant if {
	some c in data.authz_matrix.cases
	c.name == "listing commands from a region the operator token may not read from"
	got := authz.decision with input as c.input
	got.explanation == "the token may not read from region us"
}

test_writing_an_unregistered_tenant_names_it if {
	some c in data.authz_matrix.cases
	c.name == "ingest: a producer writes its own tenant, which is not registered"
	got := authz.decision with input as c.input
	got.explanation == "tenant nobody is not registered, so nothing may be written for it"
}
