"""Hostile-spec tests (issue 9): each asserts that an attack has no effect.

The hostile specs are files in ``specs/``, as a person could write them.

* item 1, shell through SLURM directives: ``test_slurm_directives``;
* item 2, cancelling jobs a flow does not own: ``test_job_handles``;
* item 3, YAML alias bombs and duplicate keys: ``test_spec_yaml_and_duplicate_keys``;
* item 4, policy numbers and a tick that raises: ``test_spec_policy_bounds``;
* item 5, secrets of database URLs: ``test_store_url_secrets``;
* item 6, NUL, lone surrogates, huge ints: ``test_spec_unstorable_strings``;
* item 7, bad ports and a database that is down: ``test_cli_runner_database_down``;
  a cancelled SLURM job: ``test_cli_slurm_cancelled_job``; escape sequences
  (also in what tasks print and in the runner's log): ``test_cli_terminal_escapes``;
  and in ``--events`` files: ``test_cli_events_escapes``;
* item 8, a job dir runs once, lost Dask futures: ``test_dask_runs_once``;
* item 9, the size budget: ``test_spec_size_budget``;
* runner defaults an operator can trust: ``test_runner_defaults``;
* reading outside work back: ``mc logs`` reads only job dirs the engine
  recorded (``test_cli_logs_job_dirs``), keys never share log files
  (``test_cli_logs_key_collisions``), ``mc show`` shows only recorded job
  facts and own stored children (``test_cli_show_spoofed_tree``);
* a wire cannot change the operator's shared task context (callables, job
  types, policy): ``test_wire_operator_context``;
* spec mistakes found at run time fail their task without a traceback:
  ``test_spec_errors_without_tracebacks``;
* hostile strings in every string field of every built-in task type
  (hypothesis, and exhaustively over a fixed list): ``test_spec_hostile_strings``
  (print, log, noop, wire, switch, spread, flow) and ``test_hostile_strings``
  (job, call).
"""
