"""A handler run by PyPI's awslambdaric (AWS's Python runtime interface client) from a
provided.al2023 bootstrap: it echoes the event with what the Lambda context says, records stream
events to RECORDS_FILE when that is set, and raises when asked to."""

import json
import os


def handler(event, context):
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("asked to fail")
    path = os.environ.get("RECORDS_FILE")
    if path and isinstance(event, dict) and "Records" in event:
        with open(path, "a") as f:
            f.write(json.dumps({"requestId": context.aws_request_id, "event": event}) + "\n")
    return {
        "echo": event,
        "runtime": "awslambdaric",
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "invokedFunctionArn": context.invoked_function_arn,
        "memoryLimitInMB": str(context.memory_limit_in_mb),
        "remainingTimeInMillis": context.get_remaining_time_in_millis(),
        "logGroupName": context.log_group_name,
    }
