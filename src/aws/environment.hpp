#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "aws/sigv4.hpp"

namespace obsync::aws {

enum class Service { s3, dynamodb, secrets_manager, sqs };

// The SigV4 service name ("s3", "dynamodb", "secretsmanager", "sqs").
std::string_view signing_name(Service service) noexcept;

// How S3 buckets are addressed: https://s3.region.amazonaws.com/bucket/key (path) or
// https://bucket.s3.region.amazonaws.com/key (virtual-hosted).
enum class S3Addressing { automatic, path, virtual_hosted };

// Where and as whom to talk to AWS, read the way the AWS SDKs read it:
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (Lambda sets all three);
//   AWS_REGION, else AWS_DEFAULT_REGION;
//   AWS_ENDPOINT_URL_S3 / _DYNAMODB / _SECRETS_MANAGER / _SQS, else AWS_ENDPOINT_URL, else AWS
//   (for SQS: the queue URL's own scheme://host);
//   OBSYNC_S3_ADDRESSING = path | virtual (default: path for a custom endpoint, else virtual),
//   so MinIO, Cloudflare R2 and Backblaze B2 work without further settings.
class AwsEnvironment {
public:
    using Lookup = std::function<std::optional<std::string>(const char*)>;

    // Throws Error{config} naming the missing variable when credentials or region are absent.
    static AwsEnvironment from_environment();
    static AwsEnvironment from_lookup(const Lookup& lookup);

    const Credentials& credentials() const noexcept { return m_credentials; }
    const std::string& region() const noexcept { return m_region; }

    // "scheme://host[:port]" of the service, without a path.
    std::string endpoint(Service service) const;
    bool custom_endpoint(Service service) const;
    bool s3_path_style() const;

private:
    Credentials m_credentials;
    std::string m_region;
    std::string m_endpoint_default;  // AWS_ENDPOINT_URL
    std::string m_endpoint_s3;
    std::string m_endpoint_dynamodb;
    std::string m_endpoint_secrets;
    std::string m_endpoint_sqs;
    S3Addressing m_addressing = S3Addressing::automatic;
};

}  // namespace obsync::aws
