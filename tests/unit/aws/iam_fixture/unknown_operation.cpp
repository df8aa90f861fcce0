// Input of the test iam_policy_check_rejects_unknown_operations: a call the checker cannot map.
// Not compiled.
AwsRequest req = request(bucket, no_key, "GET", "GetBucketAcl");
