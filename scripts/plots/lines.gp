# lines.gp: one line per model, a figure (median over repetitions, min-max as error bars)
# against x. Data: one file per model, DATA.MODEL.dat, columns: x median min max.
# Variables besides common.gp's: data, models, lts (line types, in the order of models),
#   logx, logy (0 or 1), yformat (a gnuplot format for the y tics, or '').
load 'common.gp'
if (logx) { set logscale x }
if (logy) { set logscale y }
if (strlen(yformat) > 0) { set format y yformat }
set offsets graph 0.02, graph 0.02, graph 0.05, graph 0.02
plot for [i=1:words(models)] sprintf('%s.%s.dat', data, word(models, i)) \
	using 1:2:3:4 with yerrorlines lt (word(lts, i) + 0) title word(models, i)
