// obsync-test-download: the interop scripts' handle on our protocol layer (see
// tests/support/mini_download.hpp). Not a product binary.
#include <iostream>

#include <CLI/CLI.hpp>

#include "support/mini_download.hpp"
#include "util/error.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Download a vault with obsync's protocol layer (test tool)"};
    obsync::test::DownloadRequest request;
    std::string vault_password;
    std::string state_file;
    app.add_option("--api", request.api_url)->required();
    app.add_option("--email", request.email)->required();
    app.add_option("--password", request.password)->required();
    app.add_option("--vault", request.vault)->required();
    app.add_option("--vault-password", vault_password);
    app.add_option("--dest", request.dest)->required();
    app.add_option("--state", state_file);
    CLI11_PARSE(app, argc, argv);
    if (!vault_password.empty()) {
        request.vault_password = vault_password;
    }
    if (!state_file.empty()) {
        request.state_file = state_file;
    }
    try {
        const auto result = obsync::test::download_vault(request);
        std::cout << "files " << result.files_written << ", folders " << result.folders_created
                  << ", removed " << result.removed << ", version " << result.version << "\n";
        return 0;
    } catch (const obsync::Error& e) {
        std::cerr << "obsync-test-download: " << obsync::to_string(e.kind()) << ": " << e.what()
                  << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "obsync-test-download: " << e.what() << "\n";
        return 1;
    }
}
