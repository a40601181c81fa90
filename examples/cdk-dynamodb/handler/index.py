import json


def handler(event, context):
    """Print each DynamoDB stream record's eventName and NewImage as one JSON line."""
    for record in event.get("Records", []):
        print(json.dumps({
            "eventName": record.get("eventName"),
            "NewImage": record.get("dynamodb", {}).get("NewImage"),
        }))
