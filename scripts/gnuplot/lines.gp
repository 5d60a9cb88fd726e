# lines.gp: one line per model, a figure (median over repetitions, min-max as error bars)
# against x. Data: one file per model, DATA.MODEL.dat, columns: x median min max; and
# DATA.MODEL.invalid.dat, columns: x median, the points whose runs were all invalid, drawn as
# open markers off the line.
# Variables besides common.gp's: data, models, titles (their names on the plot, quoted),
#   lts (line types, in the order of models), open_pts (their open point types), invalid (1 if
#   any point is invalid),
#   logx, logy (0 or 1), yformat (a gnuplot format for the y tics, or '').
load 'common.gp'
if (logx) { set logscale x }
if (logy) { set logscale y }
if (strlen(yformat) > 0) { set format y yformat }
set offsets graph 0.02, graph 0.02, graph 0.05, graph 0.02
if (invalid) {
	set label 1 "open markers: runs marked invalid (see the report for why)" \
		at screen 0.01, screen 0.02 font ',9' tc rgb '#555555'
	set bmargin 5
}
plot for [i=1:words(models)] sprintf('%s.%s.dat', data, word(models, i)) \
	using 1:2:3:4 with yerrorlines lt (word(lts, i) + 0) title word(titles, i), \
	for [i=1:words(models)] sprintf('%s.%s.invalid.dat', data, word(models, i)) \
	using 1:2 with points lt (word(lts, i) + 0) pt (word(open_pts, i) + 0) notitle
