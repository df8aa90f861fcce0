#pragma once

// Runs moto_server (the AWS service emulator, preinstalled with `pip install moto[server]`) on a
// free 127.0.0.1 port for the AWS tests. Found as $OBSYNC_MOTO_SERVER, else `moto_server` on
// PATH; a missing moto fails the test with a message saying so (it is never skipped).

#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace obsync::test {

struct AwsTestKeys {
    std::string access_key_id;
    std::string secret_access_key;
};

class MotoServer {
public:
    MotoServer();
    MotoServer(const MotoServer&) = delete;
    MotoServer& operator=(const MotoServer&) = delete;
    ~MotoServer();

    const std::string& endpoint() const noexcept { return m_endpoint; }  // http://127.0.0.1:P

    // Forgets every bucket, table, secret and user (POST /moto-api/reset) and switches signature
    // checks off again.
    void reset();

    // Switches on moto's IAM checks (POST /moto-api/reset-auth) and creates a user with an
    // access key allowed `actions` (IAM action patterns such as "s3:*") on every resource.
    // Requests signed with any other key, or signed wrongly, are refused from then on.
    AwsTestKeys enable_auth(const std::vector<std::string>& actions);

    // The environment an obsync process needs to reach this moto: AWS_* variables with the given
    // keys (the fixed test keys when empty), region us-east-1, all endpoints here.
    std::vector<std::pair<std::string, std::string>> environment(
        const AwsTestKeys& keys = AwsTestKeys{}) const;

    // Sets the same variables in this process (for in-process AwsClient tests).
    void export_environment(const AwsTestKeys& keys = AwsTestKeys{}) const;

private:
    pid_t m_pid = -1;
    std::string m_endpoint;
};

// A small blocking HTTP/1.1 call to 127.0.0.1 for test set-up (moto admin endpoints): returns
// the status and fills `body`.
int loopback_http(const std::string& endpoint, const std::string& method, const std::string& target,
                  const std::string& body, std::string& response_body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace obsync::test
