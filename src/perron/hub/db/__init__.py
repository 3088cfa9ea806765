"""The hub's database: tables (:mod:`.models`) and the engine factory (:mod:`.session`)."""
