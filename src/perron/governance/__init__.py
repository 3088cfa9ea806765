"""Governance as code: data requests, the study route, signed study policies.

The Secur-e-Health route (research question, dataset preparation, DPIA,
agreements, installation, risk assessment, analysis) becomes a state machine per
data holder (:mod:`.route`); one EHDS-style data request goes to every holder
(:mod:`.request`); when a holder's track is "go", the agreed terms become a policy
that the holder's approvers sign and that its station enforces on every task
(:mod:`.policy`). This package is pure: the hub stores it, the station enforces it,
and neither needs the other to check it.
"""
