#!/usr/bin/env node
// Minimal CDK v2 app in plain JavaScript (no compile step): a DynamoDB table with a
// NEW_IMAGE stream feeding a Python Lambda through an event source mapping.
//
// Synthesize without the `aws-cdk` CLI:   CDK_OUTDIR=cdk.out node app.js
// The synthesizer is picked with CDK_SYNTHESIZER:
//   local (default here) - no bootstrap stack needed: DefaultStackSynthesizer with a fixed asset
//                          bucket (CDK_ASSETS_BUCKET, default `cdk-assets-local`) and no
//                          BootstrapVersion parameter/rule. The template names the bucket and
//                          the key `<asset hash>.zip` literally; cdk.out/CdkDdbApp.assets.json
//                          says which directory to zip and where to upload it.
//   legacy               - LegacyStackSynthesizer (CDK v1 style): no bootstrap stack needed; the
//                          asset becomes three CloudFormation parameters (S3 bucket,
//                          "prefix||key" version key, artifact hash) that the deployer fills in.
//   default              - CDK's stock DefaultStackSynthesizer: needs `cdk bootstrap` (the
//                          cdk-hnb659fds-assets-<account>-<region> bucket, the publishing/deploy
//                          roles and the /cdk-bootstrap/hnb659fds/version SSM parameter).
// (BootstraplessSynthesizer refuses any asset: "Cannot add assets to a Stack that uses the
// BootstraplessSynthesizer".)
const path = require('path');
const cdk = require('aws-cdk-lib');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const lambda = require('aws-cdk-lib/aws-lambda');
const { DynamoEventSource } = require('aws-cdk-lib/aws-lambda-event-sources');

function synthesizer() {
  switch (process.env.CDK_SYNTHESIZER || 'local') {
    case 'local':
      return new cdk.DefaultStackSynthesizer({
        fileAssetsBucketName: process.env.CDK_ASSETS_BUCKET || 'cdk-assets-local',
        bucketPrefix: '',
        generateBootstrapVersionRule: false,
      });
    case 'legacy':
      return new cdk.LegacyStackSynthesizer();
    case 'default':
      return new cdk.DefaultStackSynthesizer();
    default:
      throw new Error(`unknown CDK_SYNTHESIZER ${process.env.CDK_SYNTHESIZER}`);
  }
}

class DdbStreamStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);

    // TableV2 synthesizes to AWS::DynamoDB::GlobalTable (one replica, in the stack's region).
    // CDK_TABLE=table uses the older dynamodb.Table, which synthesizes to AWS::DynamoDB::Table.
    const table = process.env.CDK_TABLE === 'table'
      ? new dynamodb.Table(this, 'Table', {
        partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
        stream: dynamodb.StreamViewType.NEW_IMAGE,
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        removalPolicy: cdk.RemovalPolicy.DESTROY,
      })
      : new dynamodb.TableV2(this, 'Table', {
        partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
        dynamoStream: dynamodb.StreamViewType.NEW_IMAGE,
        removalPolicy: cdk.RemovalPolicy.DESTROY,
      });

    const fn = new lambda.Function(this, 'ProcessDynamoDBStream', {
      runtime: lambda.Runtime.PYTHON_3_11,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(path.join(__dirname, 'handler')),
    });

    fn.addEventSource(new DynamoEventSource(table, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
    }));

    new cdk.CfnOutput(this, 'FunctionName', { value: fn.functionName });
    new cdk.CfnOutput(this, 'TableName', { value: table.tableName });
    new cdk.CfnOutput(this, 'TableStreamArn', { value: table.tableStreamArn });
  }
}

const app = new cdk.App({ defaultStackSynthesizer: synthesizer() });
new DdbStreamStack(app, 'CdkDdbApp');
app.synth();
