// ailog_exporter entry point.
#include <csignal>

#include "ailog/clock.hpp"

#include "cli/check_config_command.hpp"
#include "cli/explain_command.hpp"
#include "cli/options.hpp"
#include "cli/replay_command.hpp"
#include "cli/serve_command.hpp"

int main(int argc, char** argv) {
    // Signals are taken synchronously by the main thread (sigwait); block
    // them before any thread starts so that none of them receives one.
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    const auto cmd = ailog::cli::parse_command_line(argc, argv, ailog::SystemClock().now_ms());
    if (cmd.kind == ailog::cli::ParsedCommand::Kind::Exit) return cmd.exit_code;
    if (cmd.kind == ailog::cli::ParsedCommand::Kind::Replay) return ailog::cli::run_replay(cmd.replay);
    if (cmd.kind == ailog::cli::ParsedCommand::Kind::Explain) return ailog::cli::run_explain(cmd.explain);
    if (cmd.kind == ailog::cli::ParsedCommand::Kind::CheckConfig)
        return ailog::cli::run_check_config(cmd.check_config_file);
    return ailog::cli::run_serve(cmd.serve);
}
