# Quiet hours of a tenant's notifications (comms; docs/adr/0005-comms-command-bus.md).
#
# The comms worker asks before each delivery. It converts "now" into the
# tenant's local minute of the day (time zones are the caller's job: Wasm has
# no tz database), so the input is:
#
#   localMinute   0..1439, the tenant's local time of day
#   quietHours    {startMinute, endMinute} (0..1439; start > end spans midnight;
#                 start == end is an empty window), or null when the tenant has none
#
# The one entrypoint is `decision`: {allow, reasonCode, explanation, deferMinutes}.
# A denial is a deferral, never a drop: deferMinutes says when the window ends.
# Input this policy does not understand is denied with POLICY_ERROR (the
# caller retries later rather than notifying at night).
package coherence.comms.quiet_hours

minutes_per_day := 1440

default decision := {
	"allow": false,
	"reasonCode": "POLICY_ERROR",
	"explanation": "the policy input is malformed",
	"deferMinutes": 0,
}

decision := {
	"allow": true,
	"reasonCode": "ALLOWED",
	"explanation": "the tenant has no quiet hours",
	"deferMinutes": 0,
} if {
	valid_minute(input.localMinute)
	input.quietHours == null
}

decision := {
	"allow": true,
	"reasonCode": "ALLOWED",
	"explanation": "outside the tenant's quiet hours",
	"deferMinutes": 0,
} if {
	valid_window
	not in_window
}

decision := {
	"allow": false,
	"reasonCode": "QUIET_HOURS",
	"explanation": sprintf("within the tenant's quiet hours; deferred %d minutes until they end", [defer]),
	"deferMinutes": defer,
} if {
	valid_window
	in_window
	defer := ((input.quietHours.endMinute - input.localMinute) + minutes_per_day) % minutes_per_day
}

valid_minute(m) if {
	is_number(m)
	m == floor(m)
	m >= 0
	m < minutes_per_day
}

valid_window if {
	valid_minute(input.localMinute)
	valid_minute(input.quietHours.startMinute)
	valid_minute(input.quietHours.endMinute)
}

# Same-day window, e.g. 09:00-17:00.
in_window if {
	input.quietHours.startMinute < input.quietHours.endMinute
	input.localMinute >= input.quietHours.startMinute
	input.localMinute < input.quietHours.endMinute
}

# Window across midnight, e.g. 22:00-07:00.
in_window if {
	input.quietHours.startMinute > input.quietHours.endMinute
	input.localMinute >= input.quietHours.startMinute
}

in_window if {
	input.quietHours.startMinute > input.quietHours.endMinute
	input.localMinute < input.quietHours.endMinute
}
