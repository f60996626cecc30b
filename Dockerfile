# ailog_exporter in a container: built on Debian 12 against the distribution's
# libraries (as scripts/build.sh does), run on debian:12-slim with only their
# runtime packages.
#
#   docker build -t ailog_exporter .
#   docker run --rm -p 7467:7467 -v /var/log/ai-service:/logs:ro -v ailog-state:/state ailog_exporter
#
# docker-compose.yml builds it as part of the monitoring stack.

FROM debian:12-slim AS build
WORKDIR /src
# The build dependencies from the list the scripts use (it also installs the
# test tools: promtool, curl, python3). Copied alone first, so that this layer
# is rebuilt only when the list changes.
COPY scripts/setup-debian.sh scripts/setup-debian.sh
RUN scripts/setup-debian.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# .git is not in the build context (.dockerignore): the version's revision
# reads "unknown" (ailog_exporter_build_info).
RUN meson setup build && meson compile -C build

FROM debian:12-slim
# The shared libraries the binary links (ldd build/ailog_exporter), and the time
# zone database that --input.timezone reads (tzdata); libstdc++6,
# libgcc-s1 and libc6 are part of the base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsimdjson14 libspdlog1.10 libfmt9 libmicrohttpd12 libgnutls30 libcrypt1 zlib1g libdate-tz3 libyaml-cpp0.7 libre2-9 tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/ailog_exporter /usr/local/bin/ailog_exporter
# An unprivileged user. The log directory must be readable by uid 10001 (or
# run the container with --user / compose's user: set to a group that can read
# it, as the systemd unit's SupplementaryGroups=adm does). /state is owned by
# it, so a named volume mounted there is writable.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ailog \
 && mkdir -p /logs /state \
 && chown ailog:ailog /state
USER 10001:10001
EXPOSE 7467
ENTRYPOINT ["/usr/local/bin/ailog_exporter"]
CMD ["serve", "--state.file", "/state/state.json", "/logs"]
