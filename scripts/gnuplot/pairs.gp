# pairs.gp: two bars per model side by side, the first hatched, the second solid (the same
# figure in two conditions), medians over rounds with min-max error bars.
# Data: DATA.dat, columns: index "model's name" first second linetype first_min first_max
# second_min second_max (whole_min whole_max, unused).
# Variables besides common.gp's: data, first, second (the conditions' names), logy, ymin
# (where the bars stand: 0, or on a log scale a value below the lowest bar).
load 'common.gp'
if (logy) { set logscale y }
set yrange [ymin:*]
set style fill solid 0.85 border -1
set boxwidth 0.36
set xrange [0.3:*]
set offsets 0, 0.7, graph 0.08, 0
plot data using ($1 - 0.19):3:5:xtic(2) with boxes lc variable fs pattern 4 border -1 notitle, \
	'' using ($1 + 0.19):4:5 with boxes lc variable fs solid 0.85 border -1 notitle, \
	'' using ($1 - 0.19):3:6:7 with yerrorbars lc rgb '#333333' pt 0 notitle, \
	'' using ($1 + 0.19):4:8:9 with yerrorbars lc rgb '#333333' pt 0 notitle, \
	NaN with boxes lc rgb '#777777' fs pattern 4 border lc rgb '#000000' title first, \
	NaN with boxes lc rgb '#777777' fs solid 0.85 border lc rgb '#000000' title second
