#!/usr/bin/env bash
# spark-submit for runs under ddclab's remote-memory emulator.
#
# Like pyspark's bin/spark-class: a short "launcher" JVM computes the real
# java command line, then this script execs it (same pid: the Spark JVM is the
# emulated root process). Unlike spark-class, the launcher JVM runs OUTSIDE the
# emulator (LD_PRELOAD and DDCLAB_MEMU* removed for it alone): it is set-up,
# not the measured application. (JVM start-up hung under the emulator until
# the hooks stopped holding its lock; see docs/notes-for-emu.md.)
#
# usage: SPARK_HOME=... spark-submit-emu.sh [spark-submit arguments...]
set -eo pipefail
if [ -z "${SPARK_HOME:-}" ] || [ ! -d "$SPARK_HOME/jars" ]; then
    echo "error: SPARK_HOME must point at a Spark installation with jars/ (got '${SPARK_HOME:-}')" >&2
    exit 2
fi
. "$SPARK_HOME/bin/load-spark-env.sh"
set -u
RUNNER="${JAVA_HOME:+$JAVA_HOME/bin/}java"
clean_env=(env -u LD_PRELOAD)
for v in $(compgen -e | grep '^DDCLAB_MEMU' || true); do clean_env+=(-u "$v"); done

build_command() {
    "${clean_env[@]}" "$RUNNER" -Xmx128m -cp "$SPARK_HOME/jars/*" org.apache.spark.launcher.Main org.apache.spark.deploy.SparkSubmit "$@"
    printf "%d\0" $?
}

CMD=()
DELIM=$'\n'
STARTED=false
while IFS= read -d "$DELIM" -r ARG; do
    if $STARTED; then
        CMD+=("$ARG")
    elif [ "$ARG" == $'\0' ]; then
        DELIM=''
        STARTED=true
    elif [ -n "$ARG" ]; then
        echo "$ARG"
    fi
done < <(build_command "$@")
LAST=$(( ${#CMD[@]} - 1 ))
if [ "$LAST" -lt 0 ] || ! [[ "${CMD[$LAST]}" =~ ^[0-9]+$ ]] || [ "${CMD[$LAST]}" != 0 ]; then
    echo "error: the Spark launcher failed (exit ${CMD[$LAST]:-none})" >&2
    exit 1
fi
unset 'CMD[LAST]'
exec "${CMD[@]}"
