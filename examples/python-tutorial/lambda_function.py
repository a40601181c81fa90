"""The handler of AWS's "Using AWS Lambda with Amazon DynamoDB streams" tutorial: log every stream
record it is given and say how many there were."""

import json
import os


def lambda_handler(event, context):
    for record in event["Records"]:
        print(record["eventID"])
        print(record["eventName"])
        print("DynamoDB Record: " + json.dumps(record["dynamodb"], indent=2))
    save_event(event)
    return "Successfully processed {} records.".format(len(event["Records"]))


def save_event(event):
    """Not in AWS's tutorial: Tributary runs the function as a local process, so when RECORDS_FILE
    is set the handler also appends each event to that file (one JSON line per invocation), which
    lets you (and Tributary's tests) watch deliveries with `tail -f`."""
    path = os.environ.get("RECORDS_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(event) + "\n")
