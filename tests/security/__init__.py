"""Hostile-spec tests (issue 9): each asserts that an attack has no effect.

Spec, CLI and store items (files ``test_spec_*``, ``test_cli_*``, ``test_store_*``;
their hostile specs are ``specs/spec_*``):

* item 3, YAML alias bombs and duplicate keys: ``test_spec_yaml_and_duplicate_keys``;
* item 4, policy numbers and a tick that raises: ``test_spec_policy_bounds``;
* item 5, secrets of database URLs: ``test_store_url_secrets``;
* item 6, NUL, lone surrogates, huge ints: ``test_spec_unstorable_strings``;
* item 7, bad ports and a database that is down: ``test_cli_runner_database_down``;
  a cancelled SLURM job: ``test_cli_slurm_cancelled_job``; escape sequences:
  ``test_cli_terminal_escapes``;
* item 9, the size budget: ``test_spec_size_budget``;
* hostile strings in every field of every built-in task type (hypothesis, and
  exhaustively over a fixed list): ``test_spec_hostile_strings``.
"""
