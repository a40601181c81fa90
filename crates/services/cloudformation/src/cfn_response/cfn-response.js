// The `cfn-response` module CloudFormation offers inline (ZipFile) Node.js functions: send() PUTs
// a custom resource's outcome to the request's ResponseURL. Written for Tributary to the
// documented interface.
'use strict';

exports.SUCCESS = 'SUCCESS';
exports.FAILED = 'FAILED';

exports.send = function (event, context, responseStatus, responseData, physicalResourceId, noEcho, reason) {
  return new Promise((resolve) => {
    const body = JSON.stringify({
      Status: responseStatus,
      Reason: reason || ('See the details in CloudWatch Log Stream: ' + context.logStreamName),
      PhysicalResourceId: physicalResourceId || context.logStreamName,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      NoEcho: noEcho || false,
      Data: responseData,
    });
    console.log('Response body:\n', body);
    const url = new URL(event.ResponseURL);
    const client = url.protocol === 'https:' ? require('https') : require('http');
    const req = client.request({
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method: 'PUT',
      headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      console.log('Status code: ' + res.statusCode);
      res.resume();
      res.on('end', () => { if (typeof context.done === 'function') context.done(); resolve(); });
    });
    req.on('error', (e) => {
      console.log('send(..) failed executing https.request(..): ' + e);
      if (typeof context.done === 'function') context.done();
      resolve();
    });
    req.write(body);
    req.end();
  });
};
