"""The station: runs allow-listed algorithm steps on a data holder's data, under its rules.

Modules in dependency order:

- :mod:`.config`: the station's TOML file, with its ``[governance]`` table;
- :mod:`.objections`: the holder's register of objections (opt-outs);
- :mod:`.counter`: tasks run per study policy (``max_tasks``);
- :mod:`.policies`: signed study policies from the hub, verified and cached;
- :mod:`.view`: what a task sees of the dataset (policy columns, no identifier,
  no objectors);
- :mod:`.node`: one task through the allow-list, disclosure settings and contract;
- :mod:`.governance`: the policy checks and cohort of every task;
- :mod:`.hub_client`: the token and version headers of every request to the hub;
- :mod:`.link`: how runs arrive (a WebSocket, or long-polls);
- :mod:`.report`: what the station reports for its holder's pages, and when;
- :mod:`.runner`: the process that pulls signed tasks, answers sealed and audits;
- :mod:`.transparency`: which studies used a person's data, from the audit log;
- :mod:`.cli`: ``perron station ...``.
"""
