"""The station: runner, policy checks and (later) audit log at a data holder."""
