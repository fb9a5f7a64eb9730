"""Business time, SLA deadlines and escalation plans: pure arithmetic on aware datetimes."""
