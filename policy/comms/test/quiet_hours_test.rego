package coherence.comms.quiet_hours_test

import data.coherence.comms.quiet_hours.decision

night := {"startMinute": 1320, "endMinute": 420}

test_no_quiet_hours_allows if {
	d := decision with input as {"localMinute": 180, "quietHours": null}
	d.allow
	d.reasonCode == "ALLOWED"
}

test_outside_a_midnight_window_allows if {
	d := decision with input as {"localMinute": 720, "quietHours": night}
	d.allow
}

test_before_midnight_defers_until_the_end if {
	d := decision with input as {"localMinute": 1380, "quietHours": night}
	not d.allow
	d.reasonCode == "QUIET_HOURS"
	d.deferMinutes == 480
}

test_after_midnight_defers_until_the_end if {
	d := decision with input as {"localMinute": 60, "quietHours": night}
	d.reasonCode == "QUIET_HOURS"
	d.deferMinutes == 360
}

test_the_end_minute_is_outside if {
	d := decision with input as {"localMinute": 420, "quietHours": night}
	d.allow
}

test_same_day_window if {
	day := {"startMinute": 540, "endMinute": 1020}
	inside := decision with input as {"localMinute": 600, "quietHours": day}
	inside.deferMinutes == 420
	outside := decision with input as {"localMinute": 1020, "quietHours": day}
	outside.allow
}

test_an_empty_window_never_defers if {
	d := decision with input as {"localMinute": 600, "quietHours": {"startMinute": 600, "endMinute": 600}}
	d.allow
}

test_malformed_input_is_denied if {
	d := decision with input as {"localMinute": 1440, "quietHours": null}
	d.reasonCode == "POLICY_ERROR"
	e := decision with input as {}
	not e.allow
	f := decision with input as {"localMinute": 10.5, "quietHours": night}
	f.reasonCode == "POLICY_ERROR"
}
