# README.md's configuration table as man(7) entries, for sluice.conf(5):
# one source, so that the page and the README cannot drift.
function roff(s) {
	gsub(/\\/, "\\e", s)
	while (match(s, /\[[^]]*\]\([^)]*\)/)) {
		t = substr(s, RSTART + 1, RLENGTH); sub(/\]\(.*/, "", t)
		s = substr(s, 1, RSTART - 1) t substr(s, RSTART + RLENGTH)
	}
	while (match(s, /`[^`]*`/))
		s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
	sub(/^[.']/, "\\\\\\&&", s)
	return s
}
/^## Configuration/ { on = 1; next }
/^## / { on = 0 }
on && /^\| `/ {
	n = split($0, f, / \| /)
	sub(/^\| /, "", f[1]); sub(/ \|$/, "", f[n])
	meaning = f[3]; for (i = 4; i <= n; i++) meaning = meaning " | " f[i]
	print ".TP"; print roff(f[1]) " (default: " roff(f[2]) ")"; print roff(meaning)
}
