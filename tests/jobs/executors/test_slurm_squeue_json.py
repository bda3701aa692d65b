"""``squeue --json`` as SLURM 22.05 and 23.02+ print it: both give the same snapshot."""

from __future__ import annotations

import json

from mc.jobs.executors.slurm import parse_squeue_json


def number(value: int, set_: bool = True) -> dict[str, object]:
    return {"set": set_, "infinite": False, "number": value}


def squeue(*jobs: dict[str, object]) -> str:
    return json.dumps({"jobs": list(jobs)})


BASE = {"job_state": "RUNNING", "state_reason": "None", "restart_cnt": 0, "comment": "mc-t"}


def test_plain_numbers_of_22_05_give_jobs_and_array_items():
    text = squeue(
        {**BASE, "job_id": 7, "array_job_id": 0, "exit_code": 0, "name": "a"},
        {**BASE, "job_id": 9, "array_job_id": 8, "array_task_id": 1, "name": "b"},
        {
            **BASE,
            "job_state": "PENDING",
            "job_id": 8,
            "array_job_id": 8,
            "array_task_id": None,
            "array_task_string": "2-3",
        },
    )
    assert sorted(parse_squeue_json(text)) == ["7", "8_1", "8_2", "8_3"]


def test_number_objects_of_23_02_give_the_same_jobs():
    text = squeue(
        {
            **BASE,
            "job_state": ["RUNNING"],
            "job_id": 7,
            "array_job_id": number(0),
            "array_task_id": number(0, set_=False),
            "exit_code": {"status": ["SUCCESS"], "return_code": number(0)},
            "name": "a",
        },
        {**BASE, "job_id": 9, "array_job_id": number(8), "array_task_id": number(1)},
        {
            **BASE,
            "job_state": ["PENDING"],
            "job_id": 8,
            "array_job_id": number(8),
            "array_task_id": number(0, set_=False),
            "array_task_string": "2-3",
        },
    )
    records = parse_squeue_json(text)
    assert sorted(records) == ["7", "8_1", "8_2", "8_3"]
    assert (records["7"]["state"], records["7"]["exit_code"]) == ("RUNNING", 0)
    assert records["8_2"]["state"] == "PENDING"
