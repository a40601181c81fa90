"""The `cfnresponse` module CloudFormation offers inline (ZipFile) Python functions: send() PUTs
a custom resource's outcome to the request's ResponseURL. Written for Tributary to the documented
interface."""

import json
import urllib.request

SUCCESS = "SUCCESS"
FAILED = "FAILED"


def send(event, context, responseStatus, responseData, physicalResourceId=None, noEcho=False, reason=None):
    body = {
        "Status": responseStatus,
        "Reason": reason or "See the details in CloudWatch Log Stream: " + context.log_stream_name,
        "PhysicalResourceId": physicalResourceId or context.log_stream_name,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": noEcho,
        "Data": responseData,
    }
    data = json.dumps(body).encode()
    print("Response body:\n" + data.decode())
    req = urllib.request.Request(event["ResponseURL"], data=data, method="PUT",
                                 headers={"content-type": "", "content-length": str(len(data))})
    try:
        with urllib.request.urlopen(req) as resp:
            print("Status code: " + str(resp.status))
    except Exception as e:  # as the module does: report, don't raise
        print("send(..) failed executing request: " + str(e))
