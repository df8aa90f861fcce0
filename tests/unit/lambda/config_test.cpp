#include "lambda/config.hpp"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace obsync::lambda {
namespace {

using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;

// The smallest valid environment plus `extra` (an empty value stands for an empty variable).
LambdaConfig load(Env extra = {}) {
    Env env = {{"STATE_TABLE_NAME", "obsync-state"}, {"S3_BUCKET", "backups"}};
    for (auto& [name, value] : extra) {
        env[name] = value;
    }
    return LambdaConfig::from_lookup([&env](const char* name) -> std::optional<std::string> {
        const auto it = env.find(name);
        if (it == env.end()) {
            return std::nullopt;
        }
        return it->second;
    });
}

LambdaConfig load_without(const std::string& missing) {
    Env env = {{"STATE_TABLE_NAME", "obsync-state"}, {"S3_BUCKET", "backups"}};
    env.erase(missing);
    return LambdaConfig::from_lookup([&env](const char* name) -> std::optional<std::string> {
        const auto it = env.find(name);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
}

// The config error `extra` causes; its message must name `variable`.
std::string config_error(const Env& extra, const std::string& variable) {
    try {
        load(extra);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config) << e.what();
        EXPECT_NE(std::string(e.what()).find(variable), std::string::npos) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error for " << variable;
    return {};
}

TEST(LambdaConfig, TheDefaultsAreTheContracts) {
    const LambdaConfig config = load();
    EXPECT_EQ(config.api_url, "https://api.obsidian.md");
    EXPECT_EQ(config.secret_id, "");
    EXPECT_EQ(config.state_table, "obsync-state");
    EXPECT_EQ(config.bucket, "backups");
    EXPECT_EQ(config.prefix, "");
    EXPECT_EQ(config.concurrency, 4);
    EXPECT_EQ(config.sse, "");
    EXPECT_EQ(config.sse_kms_key_id, "");
    EXPECT_EQ(config.allowed_buckets, (std::vector<std::string>{"backups"}));
    EXPECT_FALSE(config.allow_request_credentials);
    EXPECT_FALSE(config.encrypted);  // existing deployments keep their plaintext backups
    EXPECT_EQ(config.deadline_margin, 30s);
    EXPECT_FALSE(config.deadline_margin_explicit);
    EXPECT_EQ(config.log_level, LogLevel::info);
    EXPECT_EQ(config.function_name, "obsync");
    EXPECT_EQ(config.memory_mb, 0);
    EXPECT_EQ(config.lease_ttl, 120s);
}

TEST(LambdaConfig, EverySettingIsRead) {
    const LambdaConfig config = load({{"OBSIDIAN_API_URL", "http://127.0.0.1:8080"},
                                      {"OBSYNC_SECRET_ID", "obsync/credentials"},
                                      {"S3_PREFIX", "obsidian/daily"},
                                      {"OBSYNC_CONCURRENCY", "16"},
                                      {"OBSYNC_SSE", "aws:kms"},
                                      {"OBSYNC_SSE_KMS_KEY_ID", "alias/backups"},
                                      {"ALLOWED_BUCKETS", "other-bucket"},
                                      {"ALLOW_REQUEST_CREDENTIALS", "true"},
                                      {"OBSYNC_ENCRYPTED", "true"},
                                      {"OBSYNC_DEADLINE_MARGIN", "45"},
                                      {"OBSYNC_LOG_LEVEL", "debug"},
                                      {"AWS_LAMBDA_FUNCTION_NAME", "obsync-backup"},
                                      {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"},
                                      {"OBSYNC_LEASE_TTL", "5"}});
    EXPECT_EQ(config.api_url, "http://127.0.0.1:8080");
    EXPECT_EQ(config.secret_id, "obsync/credentials");
    EXPECT_EQ(config.prefix, "obsidian/daily");
    EXPECT_EQ(config.concurrency, 16);
    EXPECT_EQ(config.sse, "aws:kms");
    EXPECT_EQ(config.sse_kms_key_id, "alias/backups");
    EXPECT_TRUE(config.allow_request_credentials);
    EXPECT_TRUE(config.encrypted);
    EXPECT_EQ(config.deadline_margin, 45s);
    EXPECT_TRUE(config.deadline_margin_explicit);
    EXPECT_EQ(config.log_level, LogLevel::debug);
    EXPECT_EQ(config.function_name, "obsync-backup");
    EXPECT_EQ(config.memory_mb, 512);
    EXPECT_EQ(config.lease_ttl, 5s);
}

TEST(LambdaConfig, TheStateTableAndTheBucketAreRequired) {
    for (const std::string& name : std::vector<std::string>{"STATE_TABLE_NAME", "S3_BUCKET"}) {
        try {
            load_without(name);
            ADD_FAILURE() << "no error without " << name;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::config);
            EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
        }
        config_error({{name, ""}}, name);  // empty is unset
    }
}

TEST(LambdaConfig, TheSecretIdIsANameOrAnArn) {
    EXPECT_EQ(load({{"OBSYNC_SECRET_ID", "obsync/credentials-1"}}).secret_id,
              "obsync/credentials-1");
    const std::string arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:obsync-AbCdEf";
    EXPECT_EQ(load({{"OBSYNC_SECRET_ID", arn}}).secret_id, arn);
    for (const std::string& bad : std::vector<std::string>{
             "has space", "arn:aws:s3:::bucket", "arn:aws:secretsmanager:eu-west-1:12345:secret:x",
             "arn:aws:secretsmanager:eu-west-1:123456789012:secret:", "name\nwith-newline",
             std::string(513, 'a')}) {
        config_error({{"OBSYNC_SECRET_ID", bad}}, "OBSYNC_SECRET_ID");
    }
}

TEST(LambdaConfig, TheStateTableMustBeATableName) {
    EXPECT_EQ(load({{"STATE_TABLE_NAME", "Obsync_state.v2-1"}}).state_table, "Obsync_state.v2-1");
    for (const std::string& bad :
         std::vector<std::string>{"ab", "with space", "dynamodb://table", std::string(256, 't')}) {
        config_error({{"STATE_TABLE_NAME", bad}}, "STATE_TABLE_NAME");
    }
}

TEST(LambdaConfig, TheBucketMustBeABucketName) {
    config_error({{"S3_BUCKET", "Bad_Bucket"}}, "S3_BUCKET");
    config_error({{"S3_BUCKET", "s3://backups"}}, "S3_BUCKET");
}

TEST(LambdaConfig, ThePrefixLosesItsOuterSlashes) {
    EXPECT_EQ(load({{"S3_PREFIX", "/obsidian/"}}).prefix, "obsidian");
    EXPECT_EQ(load({{"S3_PREFIX", "//a/b//"}}).prefix, "a/b");
    EXPECT_EQ(load({{"S3_PREFIX", "/"}}).prefix, "");
    EXPECT_EQ(load({{"S3_PREFIX", ""}}).prefix, "");
}

TEST(LambdaConfig, APrefixIsCheckedLikeADestination) {
    for (const std::string& prefix :
         std::vector<std::string>{"a/../b", "..", "a/./b", ".", "a//b", std::string("a\nb"),
                                  std::string("a\x7f"), std::string("a\0b", 3)}) {
        config_error({{"S3_PREFIX", prefix}}, "S3_PREFIX");
    }
}

TEST(LambdaConfig, ConcurrencyIsAWholeNumberFromOneToSixteen) {
    EXPECT_EQ(load({{"OBSYNC_CONCURRENCY", "1"}}).concurrency, 1);
    for (const std::string& value : std::vector<std::string>{"0", "17", "-1", "+4", "4.0", "four",
                                                             " 4", "4 ", "99999999999999999999"}) {
        const std::string message =
            config_error({{"OBSYNC_CONCURRENCY", value}}, "OBSYNC_CONCURRENCY");
        EXPECT_NE(message.find("1 to 16"), std::string::npos) << message;
    }
}

TEST(LambdaConfig, ServerSideEncryptionIsAes256OrKms) {
    EXPECT_EQ(load({{"OBSYNC_SSE", "AES256"}}).sse, "AES256");
    EXPECT_EQ(load({{"OBSYNC_SSE", "aws:kms"}}).sse, "aws:kms");
    config_error({{"OBSYNC_SSE", "aes256"}}, "OBSYNC_SSE");
    config_error({{"OBSYNC_SSE", "kms"}}, "OBSYNC_SSE");
}

TEST(LambdaConfig, AKmsKeyNeedsKmsEncryption) {
    config_error({{"OBSYNC_SSE_KMS_KEY_ID", "alias/k"}}, "OBSYNC_SSE_KMS_KEY_ID");
    config_error({{"OBSYNC_SSE", "AES256"}, {"OBSYNC_SSE_KMS_KEY_ID", "alias/k"}},
                 "OBSYNC_SSE_KMS_KEY_ID");
}

TEST(LambdaConfig, AllowedBucketsAreTrimmedAndAlwaysHoldTheBucket) {
    const LambdaConfig config = load({{"ALLOWED_BUCKETS", " second , third,,backups, "}});
    EXPECT_EQ(config.allowed_buckets, (std::vector<std::string>{"backups", "second", "third"}));
    EXPECT_TRUE(config.bucket_allowed("backups"));
    EXPECT_TRUE(config.bucket_allowed("second"));
    EXPECT_TRUE(config.bucket_allowed("third"));
    EXPECT_FALSE(config.bucket_allowed("fourth"));
    EXPECT_FALSE(config.bucket_allowed(" second"));
    EXPECT_FALSE(config.bucket_allowed(""));
}

TEST(LambdaConfig, OnlyTheBucketIsAllowedByDefault) {
    const LambdaConfig config = load();
    EXPECT_TRUE(config.bucket_allowed("backups"));
    EXPECT_FALSE(config.bucket_allowed("other-bucket"));
}

TEST(LambdaConfig, AnAllowedBucketMustBeABucketName) {
    config_error({{"ALLOWED_BUCKETS", "good-one,Not Valid"}}, "ALLOWED_BUCKETS");
    config_error({{"ALLOWED_BUCKETS", "*"}}, "ALLOWED_BUCKETS");
}

TEST(LambdaConfig, RequestCredentialsAreAFlag) {
    EXPECT_TRUE(load({{"ALLOW_REQUEST_CREDENTIALS", "TRUE"}}).allow_request_credentials);
    EXPECT_TRUE(load({{"ALLOW_REQUEST_CREDENTIALS", "1"}}).allow_request_credentials);
    EXPECT_FALSE(load({{"ALLOW_REQUEST_CREDENTIALS", "false"}}).allow_request_credentials);
    EXPECT_FALSE(load({{"ALLOW_REQUEST_CREDENTIALS", "0"}}).allow_request_credentials);
    for (const std::string& value : std::vector<std::string>{"yes", "on", "2", "truee"}) {
        config_error({{"ALLOW_REQUEST_CREDENTIALS", value}}, "ALLOW_REQUEST_CREDENTIALS");
    }
}

TEST(LambdaConfig, EncryptedBackupsAreAFlagAndAnythingElseFailsTheStart) {
    EXPECT_FALSE(load({}).encrypted);
    EXPECT_FALSE(load({{"OBSYNC_ENCRYPTED", ""}}).encrypted);  // empty is unset
    EXPECT_TRUE(load({{"OBSYNC_ENCRYPTED", "true"}}).encrypted);
    EXPECT_TRUE(load({{"OBSYNC_ENCRYPTED", "True"}}).encrypted);
    EXPECT_TRUE(load({{"OBSYNC_ENCRYPTED", "1"}}).encrypted);
    EXPECT_FALSE(load({{"OBSYNC_ENCRYPTED", "false"}}).encrypted);
    EXPECT_FALSE(load({{"OBSYNC_ENCRYPTED", "0"}}).encrypted);
    // A typo must not quietly back up in plaintext: it is a config error naming the variable
    // and quoting the value (not a secret).
    for (const std::string& value :
         std::vector<std::string>{"yes", "on", "encrypted", "ture", " true", "2"}) {
        const std::string why = config_error({{"OBSYNC_ENCRYPTED", value}}, "OBSYNC_ENCRYPTED");
        EXPECT_NE(why.find("true, false, 1 or 0"), std::string::npos) << why;
    }
}

TEST(LambdaConfig, PerVaultMetricsAreOnByDefaultAndAFlag) {
    EXPECT_TRUE(load({}).vault_metrics);
    EXPECT_FALSE(load({{"OBSYNC_VAULT_METRICS", "false"}}).vault_metrics);
    EXPECT_TRUE(load({{"OBSYNC_VAULT_METRICS", "1"}}).vault_metrics);
    config_error({{"OBSYNC_VAULT_METRICS", "no"}}, "OBSYNC_VAULT_METRICS");
}

TEST(LambdaConfig, TheDefaultMarginIsThirtySecondsOrAFifthOfTheRemainingTime) {
    const LambdaConfig config = load();
    EXPECT_EQ(config.margin_for(15min), 30s);
    EXPECT_EQ(config.margin_for(150s), 30s);
    EXPECT_EQ(config.margin_for(60s), 12s);
    EXPECT_EQ(config.margin_for(3s), 600ms);
    EXPECT_EQ(config.margin_for(0ms), 0ms);
    EXPECT_EQ(config.margin_for(-5s), 0ms);
}

TEST(LambdaConfig, AnExplicitMarginIsUsedAsItIs) {
    const LambdaConfig config = load({{"OBSYNC_DEADLINE_MARGIN", "2.5"}});
    EXPECT_EQ(config.deadline_margin, 2500ms);
    EXPECT_EQ(config.margin_for(15min), 2500ms);
    EXPECT_EQ(config.margin_for(3s), 2500ms);  // not a fifth: the operator's choice
    EXPECT_EQ(load({{"OBSYNC_DEADLINE_MARGIN", "30"}}).margin_for(60s), 30s);
}

TEST(LambdaConfig, AMarginIsAPositiveNumberOfSeconds) {
    for (const std::string& value :
         std::vector<std::string>{"0", "-1", "abc", "1s", "901", "nan", "inf", " 5"}) {
        config_error({{"OBSYNC_DEADLINE_MARGIN", value}}, "OBSYNC_DEADLINE_MARGIN");
    }
}

TEST(LambdaConfig, TheLogLevelIsParsedAndCheckedByName) {
    EXPECT_EQ(load({{"OBSYNC_LOG_LEVEL", "WARN"}}).log_level, LogLevel::warning);
    EXPECT_EQ(load({{"OBSYNC_LOG_LEVEL", "Error"}}).log_level, LogLevel::error);
    config_error({{"OBSYNC_LOG_LEVEL", "TRACE"}}, "OBSYNC_LOG_LEVEL");
}

TEST(LambdaConfig, TheApiUrlMustBeAnHttpsUrl) {
    EXPECT_EQ(load({{"OBSIDIAN_API_URL", "https://sync.example.com"}}).api_url,
              "https://sync.example.com");
    config_error({{"OBSIDIAN_API_URL", "api.obsidian.md"}}, "OBSIDIAN_API_URL");
    config_error({{"OBSIDIAN_API_URL", "http://api.example.com"}}, "OBSIDIAN_API_URL");
}

TEST(LambdaConfig, MemoryAndLeaseTtlAreWholePositiveNumbers) {
    config_error({{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"}}, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
    config_error({{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "0"}}, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
    config_error({{"OBSYNC_LEASE_TTL", "0"}}, "OBSYNC_LEASE_TTL");
    config_error({{"OBSYNC_LEASE_TTL", "86401"}}, "OBSYNC_LEASE_TTL");
    config_error({{"OBSYNC_LEASE_TTL", "2m"}}, "OBSYNC_LEASE_TTL");
    EXPECT_EQ(load({{"OBSYNC_LEASE_TTL", "86400"}}).lease_ttl, 86400s);
}

TEST(LambdaConfig, ScaleOutSettingsHaveQuietDefaults) {
    const LambdaConfig c = load();
    EXPECT_EQ(c.queue_url, "");
    EXPECT_EQ(c.dead_letter_queue_url, "");
    EXPECT_EQ(c.allowed_secret_prefix, "");
    EXPECT_EQ(c.account_concurrency, 0);
    EXPECT_EQ(c.retry_delay, 60s);
}

TEST(LambdaConfig, ScaleOutSettingsAreRead) {
    const LambdaConfig c =
        load({{"OBSYNC_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/work"},
              {"OBSYNC_DEAD_LETTER_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/dead"},
              {"ALLOWED_SECRET_PREFIX", "obsync/accounts/"},
              {"OBSYNC_ACCOUNT_CONCURRENCY", "2"},
              {"OBSYNC_RETRY_DELAY", "5"}});
    EXPECT_EQ(c.queue_url, "https://sqs.us-east-1.amazonaws.com/1/work");
    EXPECT_EQ(c.dead_letter_queue_url, "https://sqs.us-east-1.amazonaws.com/1/dead");
    EXPECT_EQ(c.allowed_secret_prefix, "obsync/accounts/");
    EXPECT_EQ(c.account_concurrency, 2);
    EXPECT_EQ(c.retry_delay, 5s);
}

TEST(LambdaConfig, ScaleOutSettingsAreChecked) {
    config_error({{"OBSYNC_ACCOUNT_CONCURRENCY", "-1"}}, "OBSYNC_ACCOUNT_CONCURRENCY");
    config_error({{"OBSYNC_ACCOUNT_CONCURRENCY", "1001"}}, "OBSYNC_ACCOUNT_CONCURRENCY");
    config_error({{"OBSYNC_RETRY_DELAY", "0"}}, "OBSYNC_RETRY_DELAY");
    config_error({{"OBSYNC_RETRY_DELAY", "901"}}, "OBSYNC_RETRY_DELAY");
    config_error({{"ALLOWED_SECRET_PREFIX", "obsync accounts"}}, "ALLOWED_SECRET_PREFIX");
    config_error({{"ALLOWED_SECRET_PREFIX", "arn:aws:secretsmanager:x"}}, "ALLOWED_SECRET_PREFIX");
    config_error({{"OBSYNC_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q"},
                  {"OBSYNC_DEAD_LETTER_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q"}},
                 "OBSYNC_DEAD_LETTER_QUEUE_URL");
}

TEST(LambdaConfig, ErrorsQuoteBadValuesPrintably) {
    const std::string message =
        config_error({{"OBSYNC_CONCURRENCY", "4\x1b[2J"}}, "OBSYNC_CONCURRENCY");
    EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
    EXPECT_NE(message.find("\\e[2J"), std::string::npos) << message;
}

}  // namespace
}  // namespace obsync::lambda
