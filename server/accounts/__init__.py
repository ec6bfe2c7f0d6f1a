"""People: invites, registration, sign-in, cohorts, graduation and who may enter which room."""
