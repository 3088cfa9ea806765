"""Governance as code: data requests, the study route, signed study policies.

The Secur-e-Health route (research question, dataset preparation, DPIA,
agreements, installation, risk assessment, analysis) becomes a state machine per
data holder (:mod:`.route`); one EHDS-style data request goes to every holder
(:mod:`.request`); when a holder's track is "go", the agreed terms become a policy
that the holder's approvers sign and that its station enforces on every task
(:mod:`.policy`). This package is pure: the hub stores it, the station enforces it,
and neither needs the other to check it.

The modules, in dependency order: :mod:`.roles`, :mod:`.request`, :mod:`.route`,
:mod:`.policy`; then two views that nothing reads back: :mod:`.drafts` (the DPIA,
the joint privacy matrix and the term sheet as Markdown and HTML, written from the
request) and :mod:`.odrl` (a policy as an ODRL 2.2 Agreement with DPV and DUO terms).
"""
