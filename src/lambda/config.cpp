#include "lambda/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <vector>

#include "aws/s3.hpp"
#include "net/url.hpp"
#include "util/ascii.hpp"
#include "util/display.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace obsync::lambda {

namespace {

constexpr double k_max_margin_seconds = 900;  // Lambda's longest timeout
constexpr std::int64_t k_max_lease_ttl_seconds = 86'400;

[[noreturn]] void bad(const char* name, std::string_view value, std::string_view why) {
    throw Error(ErrorKind::config, std::string(name) + " " + std::string(why) + ", not \"" +
                                       display_name(value) + "\"");
}

class Reader {
public:
    explicit Reader(const LambdaConfig::Lookup& lookup) : m_lookup(lookup) {}

    // Unset and empty are the same (util/env.hpp).
    std::optional<std::string> get(const char* name) const {
        auto value = m_lookup(name);
        if (value && value->empty()) {
            return std::nullopt;
        }
        return value;
    }

    std::string required(const char* name, std::string_view what) const {
        auto value = get(name);
        if (!value) {
            throw Error(ErrorKind::config,
                        std::string(name) + " is not set: it names " + std::string(what));
        }
        return std::move(*value);
    }

    // A whole number in [low, high], digits only.
    std::optional<std::int64_t> integer(const char* name, std::int64_t low,
                                        std::int64_t high) const {
        const auto value = get(name);
        if (!value) {
            return std::nullopt;
        }
        std::int64_t number = 0;
        const char* end = value->data() + value->size();
        const auto [ptr, ec] = std::from_chars(value->data(), end, number);
        const bool digits_only = !value->empty() && value->front() != '-' && value->front() != '+';
        if (!digits_only || ec != std::errc() || ptr != end || number < low || number > high) {
            bad(name, *value,
                "must be a whole number from " + std::to_string(low) + " to " +
                    std::to_string(high));
        }
        return number;
    }

private:
    const LambdaConfig::Lookup& m_lookup;
};

std::string_view trim(std::string_view text) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!text.empty() && blank(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && blank(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

void check_bucket(const char* name, const std::string& bucket) {
    if (!aws::is_valid_bucket_name(bucket)) {
        bad(name, bucket, "must name an S3 bucket (3-63 characters of a-z, 0-9, '.', '-')");
    }
}

// A Secrets Manager secret name (1-512 of a-z A-Z 0-9 / _ + = . @ -) or its ARN
// (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME).
bool valid_secret_id(const std::string& id) {
    const auto name_ok = [](std::string_view name) {
        return !name.empty() && name.size() <= 512 &&
               std::all_of(name.begin(), name.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                          std::string_view("/_+=.@-").find(c) != std::string_view::npos;
               });
    };
    if (id.rfind("arn:", 0) != 0) {
        return name_ok(id);
    }
    // arn, partition, service, region, account, "secret", name (which may hold ':' no more).
    std::vector<std::string_view> parts;
    std::string_view rest(id);
    for (int i = 0; i < 6; ++i) {
        const auto colon = rest.find(':');
        if (colon == std::string_view::npos) {
            return false;
        }
        parts.push_back(rest.substr(0, colon));
        rest.remove_prefix(colon + 1);
    }
    return parts[1].rfind("aws", 0) == 0 && parts[2] == "secretsmanager" && !parts[3].empty() &&
           parts[4].size() == 12 &&
           std::all_of(parts[4].begin(), parts[4].end(),
                       [](char c) { return c >= '0' && c <= '9'; }) &&
           parts[5] == "secret" && name_ok(rest);
}

// A DynamoDB table name: 3-255 of a-z A-Z 0-9 _ . -
bool valid_table_name(const std::string& name) {
    return name.size() >= 3 && name.size() <= 255 &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' ||
                      c == '-';
           });
}

// The same rules as an s3:// destination of the CLI (aws::parse_s3_location), so a prefix that
// is valid here is valid there.
std::string checked_prefix(const std::string& bucket, const std::string& prefix) {
    try {
        return aws::parse_s3_location("s3://" + bucket + "/" + prefix).prefix;
    } catch (const Error&) {
        bad("S3_PREFIX", prefix,
            "must be a key prefix without empty, '.' or '..' segments or control characters");
    }
}

std::chrono::milliseconds parse_margin(const std::string& value) {
    double seconds = 0;
    const char* end = value.data() + value.size();
    const auto [ptr, ec] = std::from_chars(value.data(), end, seconds);
    if (ec != std::errc() || ptr != end || !std::isfinite(seconds) || seconds <= 0 ||
        seconds > k_max_margin_seconds) {
        bad("OBSYNC_DEADLINE_MARGIN", value, "must be a number of seconds above 0 and at most 900");
    }
    const auto ms = static_cast<std::int64_t>(std::llround(seconds * 1000));
    return std::chrono::milliseconds(std::max<std::int64_t>(ms, 1));
}

bool parse_flag(const char* name, const std::string& value) {
    const std::string flag = ascii_lower(value);
    if (flag == "true" || flag == "1") {
        return true;
    }
    if (flag == "false" || flag == "0") {
        return false;
    }
    bad(name, value, "must be true, false, 1 or 0");
}

}  // namespace

LambdaConfig LambdaConfig::from_environment() {
    return from_lookup([](const char* name) { return env_var(name); });
}

LambdaConfig LambdaConfig::from_lookup(const Lookup& lookup) {
    const Reader env(lookup);
    LambdaConfig config;

    if (auto url = env.get("OBSIDIAN_API_URL")) {
        try {
            (void)net::Url::parse(*url);
        } catch (const Error& e) {
            throw Error(ErrorKind::config, std::string("OBSIDIAN_API_URL: ") + e.what());
        }
        config.api_url = std::move(*url);
    }
    config.secret_id = env.get("OBSYNC_SECRET_ID").value_or("");
    if (!config.secret_id.empty() && !valid_secret_id(config.secret_id)) {
        bad("OBSYNC_SECRET_ID", config.secret_id,
            "must be a Secrets Manager secret name (a-z, A-Z, 0-9, /_+=.@-) or its ARN");
    }
    config.state_table = env.required("STATE_TABLE_NAME", "the DynamoDB table of the sync state");
    if (!valid_table_name(config.state_table)) {
        bad("STATE_TABLE_NAME", config.state_table,
            "must name a DynamoDB table (3-255 characters of a-z, A-Z, 0-9, '_', '.', '-')");
    }

    config.bucket = env.required("S3_BUCKET", "the bucket the backups go to");
    check_bucket("S3_BUCKET", config.bucket);
    if (auto prefix = env.get("S3_PREFIX")) {
        config.prefix = checked_prefix(config.bucket, *prefix);
    }

    if (auto n = env.integer("OBSYNC_CONCURRENCY", 1, k_max_concurrency)) {
        config.concurrency = static_cast<int>(*n);
    }

    config.sse = env.get("OBSYNC_SSE").value_or("");
    if (!config.sse.empty() && config.sse != "AES256" && config.sse != "aws:kms") {
        bad("OBSYNC_SSE", config.sse, "must be AES256 or aws:kms (or unset)");
    }
    config.sse_kms_key_id = env.get("OBSYNC_SSE_KMS_KEY_ID").value_or("");
    if (!config.sse_kms_key_id.empty() && config.sse != "aws:kms") {
        throw Error(ErrorKind::config, "OBSYNC_SSE_KMS_KEY_ID needs OBSYNC_SSE=aws:kms");
    }

    config.allowed_buckets.push_back(config.bucket);
    if (auto list = env.get("ALLOWED_BUCKETS")) {
        std::string_view rest = *list;
        while (true) {
            const std::size_t comma = rest.find(',');
            const std::string item(trim(rest.substr(0, comma)));
            if (!item.empty()) {
                check_bucket("ALLOWED_BUCKETS", item);
                config.allowed_buckets.push_back(item);
            }
            if (comma == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(comma + 1);
        }
    }
    std::sort(config.allowed_buckets.begin(), config.allowed_buckets.end());
    config.allowed_buckets.erase(
        std::unique(config.allowed_buckets.begin(), config.allowed_buckets.end()),
        config.allowed_buckets.end());

    if (auto flag = env.get("ALLOW_REQUEST_CREDENTIALS")) {
        config.allow_request_credentials = parse_flag("ALLOW_REQUEST_CREDENTIALS", *flag);
    }

    if (auto flag = env.get("OBSYNC_ENCRYPTED")) {
        config.encrypted = parse_flag("OBSYNC_ENCRYPTED", *flag);
    }

    if (auto flag = env.get("OBSYNC_VAULT_METRICS")) {
        config.vault_metrics = parse_flag("OBSYNC_VAULT_METRICS", *flag);
    }

    if (auto margin = env.get("OBSYNC_DEADLINE_MARGIN")) {
        config.deadline_margin = parse_margin(*margin);
        config.deadline_margin_explicit = true;
    }

    if (auto level = env.get("OBSYNC_LOG_LEVEL")) {
        config.log_level = parse_log_level(*level, "OBSYNC_LOG_LEVEL");
    }

    if (auto name = env.get("AWS_LAMBDA_FUNCTION_NAME")) {
        config.function_name = std::move(*name);
    }
    // Lambda's sizes go up to 10240 MB; the bound only catches garbage.
    if (auto memory = env.integer("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1, 1'048'576)) {
        config.memory_mb = static_cast<int>(*memory);
    }
    if (auto ttl = env.integer("OBSYNC_LEASE_TTL", 1, k_max_lease_ttl_seconds)) {
        config.lease_ttl = std::chrono::seconds(*ttl);
    }

    // The queue URLs' form is checked where the SQS endpoint is known (lambda::Function).
    config.queue_url = env.get("OBSYNC_QUEUE_URL").value_or("");
    config.dead_letter_queue_url = env.get("OBSYNC_DEAD_LETTER_QUEUE_URL").value_or("");
    if (!config.dead_letter_queue_url.empty() && config.dead_letter_queue_url == config.queue_url) {
        throw Error(ErrorKind::config,
                    "OBSYNC_DEAD_LETTER_QUEUE_URL must not be the work queue (OBSYNC_QUEUE_URL)");
    }
    config.allowed_secret_prefix = env.get("ALLOWED_SECRET_PREFIX").value_or("");
    if (!config.allowed_secret_prefix.empty() &&
        (config.allowed_secret_prefix.rfind("arn:", 0) == 0 ||
         !valid_secret_id(config.allowed_secret_prefix))) {
        bad("ALLOWED_SECRET_PREFIX", config.allowed_secret_prefix,
            "must be the start of Secrets Manager secret names (a-z, A-Z, 0-9, /_+=.@-), such "
            "as obsync/accounts/");
    }
    if (auto n = env.integer("OBSYNC_ACCOUNT_CONCURRENCY", 0, 1000)) {
        config.account_concurrency = static_cast<int>(*n);
    }
    if (auto delay = env.integer("OBSYNC_RETRY_DELAY", 1, 900)) {
        config.retry_delay = std::chrono::seconds(*delay);
    }
    return config;
}

bool LambdaConfig::bucket_allowed(std::string_view name) const {
    return std::binary_search(allowed_buckets.begin(), allowed_buckets.end(), name);
}

std::chrono::milliseconds LambdaConfig::margin_for(std::chrono::milliseconds remaining) const {
    if (deadline_margin_explicit) {
        return deadline_margin;
    }
    const std::chrono::milliseconds fifth = std::max(remaining, std::chrono::milliseconds{0}) / 5;
    return std::min(deadline_margin, fifth);
}

}  // namespace obsync::lambda
