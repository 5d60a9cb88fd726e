# bars.gp: one bar per model, the median over rounds, with its min-max as an error bar.
# Data: DATA.dat, columns: index "model's name" median linetype "label" min max (the label is
# printed above the bar). Variables besides common.gp's: data, logy, yformat.
load 'common.gp'
if (logy) { set logscale y }
if (strlen(yformat) > 0) { set format y yformat }
set style fill solid 0.85 border -1
set boxwidth 0.6
set xrange [0.3:*]
set yrange [0:*]
if (logy) { set yrange [*:*] }
set offsets 0, 0.7, graph 0.12, 0
unset key
plot data using 1:3:4:xtic(2) with boxes lc variable notitle, \
	'' using 1:3:6:7 with yerrorbars lc rgb '#333333' pt 0 notitle, \
	'' using 1:7:5 with labels offset 0,0.8 notitle
