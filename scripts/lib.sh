# Shared by the scripts: where things live.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${EXECLAB_STATE:-$root/.execlab}
bin=$root/bin

die() {
	echo "execlab: $*" >&2
	exit 1
}
