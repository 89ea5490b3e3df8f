# Authorization of one persisted GraphQL operation (or one ingest write).
#
# The gateway builds the input from the persisted operation and the request's
# variables, never from query text (docs/adr/0002-gateway-security.md). Ingest
# builds it for a batch of signals as the field `publishSignals`, from the
# producer's token over HTTP or, for Kafka, from the consumer acting for the
# record's tenant (docs/adr/0013-ingest-write-policy.md):
#
#   principal        the verified token: subject, tenant, scopes, residency (regions it may act in)
#   operation        id, type, rootFields of the persisted operation
#   tenantIds        every tenant id the variables (or the signals) touch
#   tenantResidency  tenant id -> its residency region, for the tenants that are registered
#   region           the region of the gateway (or ingest) deciding
#   pausedScopes     scopes a kill switch has paused
#   suspendedTenants the registered tenants among tenantIds that an admin suspended (absent = none)
#
# The one entrypoint is `decision`: {allow, reasonCode, explanation}. Anything
# this policy does not positively allow is denied, including input it does
# not understand.
package coherence.authz

# Which kind of access each root field needs. A field missing here is denied.
field_access := {
	"tenantCoherence": "read",
	"tenantCoherenceHistory": "read",
	"signals": "read",
	"coherenceEvents": "read",
	"publishSignals": "write",
	"troubleshootingQueue": "operate",
	"commands": "operate",
	"commandAudit": "operate",
	"messages": "operate",
	"retryCommand": "operate",
	"cancelCommand": "operate",
	"completeCommand": "operate",
	# Tenant administration (docs/adr/0031-tenant-administration.md): what
	# decides a tenant's share, suspension and API clients (and so the scopes
	# its tokens may carry) is the platform's; its contacts and quiet hours,
	# and a view of its settings and audit, are also its own admins'.
	"createTenant": "administer",
	"updateTenant": "administer",
	"suspendTenant": "administer",
	"resumeTenant": "administer",
	"putApiClient": "administer",
	"tenant": "configure",
	"tenantAudit": "configure",
	"setQuietHours": "configure",
	"putContact": "configure",
	"removeContact": "configure",
}

# Scopes that grant an access kind for any tenant, and for the token's own tenant only.
any_tenant_scopes := {
	"read": {"coherence:read"},
	"write": set(),
	"operate": {"comms:operate"},
	"administer": {"tenants:admin"},
	"configure": {"tenants:admin"},
}

own_tenant_scopes := {
	"read": {"coherence:read:self"},
	"write": {"coherence:write:self"},
	"operate": set(),
	"administer": set(),
	"configure": {"tenants:admin:self"},
}

# Lower rank wins when a request is denied for several reasons at once.
rank := {
	"FIELD_NOT_COVERED": 0,
	"SCOPE_MISSING": 1,
	"TENANT_MISMATCH": 2,
	"FEATURE_PAUSED": 3,
	"TENANT_UNKNOWN": 4,
	"RESIDENCY_VIOLATION": 5,
	"TENANT_SUSPENDED": 6,
}

default decision := {
	"allow": false,
	"reasonCode": "POLICY_ERROR",
	"explanation": "the policy input is malformed",
}

decision := {
	"allow": true,
	"reasonCode": "ALLOWED",
	"explanation": concat("", ["allowed ", concat(", ", input.operation.rootFields), " for ", input.principal.subject]),
} if {
	valid_input
	count(denials) == 0
}

decision := {"allow": false, "reasonCode": first.code, "explanation": first.explanation} if {
	valid_input
	count(denials) > 0
	best := min({rank[d.code] | some d in denials})
	first := [d | some d in denials; rank[d.code] == best][0]
}

valid_input if {
	is_string(input.principal.subject)
	is_string(input.principal.tenant)
	is_array(input.principal.scopes)
	is_array(input.principal.residency)
	is_array(input.operation.rootFields)
	count(input.operation.rootFields) > 0
	is_array(input.tenantIds)
	is_object(input.tenantResidency)
	is_string(input.region)
	is_array(input.pausedScopes)
}

scopes := {s | some s in input.principal.scopes}

paused := {s | some s in input.pausedScopes}

# Own-tenant scopes hold only when the operation touches tenants and every one is the token's.
own_tenant_only if {
	count(input.tenantIds) > 0
	not touches_other_tenant
}

touches_other_tenant if {
	some t in input.tenantIds
	t != input.principal.tenant
}

# The scopes the token holds that would grant `field`.
granting(field) := held if {
	access := field_access[field]
	own := {s | some s in own_tenant_scopes[access]; scopes[s]; own_tenant_only}
	held := {s | some s in any_tenant_scopes[access]; scopes[s]} | own
}

denials contains {"code": "FIELD_NOT_COVERED", "explanation": concat("", ["no rule covers field ", field])} if {
	some field in input.operation.rootFields
	not field_access[field]
}

denials contains {"code": "SCOPE_MISSING", "explanation": concat("", ["no scope of the token grants field ", field])} if {
	some field in input.operation.rootFields
	count(granting(field)) == 0
	not holds_own_tenant_scope(field)
}

denials contains {"code": "TENANT_MISMATCH", "explanation": concat("", [field, " is granted for the token's own tenant only"])} if {
	some field in input.operation.rootFields
	count(granting(field)) == 0
	holds_own_tenant_scope(field)
}

denials contains {"code": "FEATURE_PAUSED", "explanation": concat("", ["every scope that grants ", field, " is paused"])} if {
	some field in input.operation.rootFields
	held := granting(field)
	count(held) > 0
	count(held - paused) == 0
}

# Reading a tenant that is not registered is a residency violation: there is
# no data of it here, and a reader learns no more than that.
denials contains {"code": "RESIDENCY_VIOLATION", "explanation": concat("", ["tenant ", t, " is not registered, so its residency is unknown"])} if {
	not writes
	not creates_tenant
	some t in input.tenantIds
	not input.tenantResidency[t]
}

# Writing one is refused as such: the producer writes its own tenant (a
# foreign one is TENANT_MISMATCH first) and has to get it registered, which
# is not the same fix as sending to the right region.
denials contains {"code": "TENANT_UNKNOWN", "explanation": concat("", ["tenant ", t, " is not registered, so nothing may be written for it"])} if {
	writes
	some t in input.tenantIds
	not input.tenantResidency[t]
}

denials contains {"code": "RESIDENCY_VIOLATION", "explanation": concat("", ["tenant ", t, " resides in ", home, ", not in ", input.region])} if {
	some t in input.tenantIds
	home := input.tenantResidency[t]
	home != input.region
}

denials contains {"code": "RESIDENCY_VIOLATION", "explanation": concat("", ["the token may not read from region ", input.region])} if {
	reads_in_region
	not region_allowed_for_token
}

# The operation reads data of this region: the tenants its variables name, or,
# for an operate field, whichever tenants reside here (comms answers operator
# fields with this region's tenants only, whether or not a tenant is named).
reads_in_region if count(input.tenantIds) > 0

reads_in_region if {
	some field in input.operation.rootFields
	field_access[field] == "operate"
}

writes if {
	some field in input.operation.rootFields
	field_access[field] == "write"
}

# Creating a tenant names one that is not registered yet; the comms subgraph
# refuses one that is (TENANT_EXISTS) and creates it in this region only.
creates_tenant if input.operation.rootFields == ["createTenant"]

# A suspended tenant is neither read nor written (nor its subscriptions kept);
# only its administration goes on, so that it can be resumed.
denials contains {"code": "TENANT_SUSPENDED", "explanation": concat("", ["tenant ", t, " is suspended"])} if {
	some field in input.operation.rootFields
	not administration[field_access[field]]
	some t in object.get(input, "suspendedTenants", [])
}

administration := {"administer", "configure"}

region_allowed_for_token if {
	some r in input.principal.residency
	r == input.region
}

holds_own_tenant_scope(field) if {
	some s in own_tenant_scopes[field_access[field]]
	scopes[s]
}
