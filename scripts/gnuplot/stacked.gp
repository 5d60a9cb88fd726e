# stacked.gp: one bar per model cut in two parts, the lower solid, the upper hatched (CPU time:
# user below, system above), medians over rounds, the whole's min-max as an error bar.
# Data: DATA.dat, columns: index "model's name" lower upper linetype lower_min lower_max
# upper_min upper_max whole_min whole_max.
# Variables besides common.gp's: data, lower, upper (the parts' names for the key).
load 'common.gp'
set style fill solid 0.85 border -1
set boxwidth 0.6
set xrange [0.3:*]
set yrange [0:*]
set offsets 0, 0.7, graph 0.08, 0
plot data using 1:($3 + $4):5:xtic(2) with boxes lc variable fs pattern 4 border -1 notitle, \
	'' using 1:3:5 with boxes lc variable fs solid 0.85 border -1 notitle, \
	'' using 1:($3 + $4):10:11 with yerrorbars lc rgb '#333333' pt 0 notitle, \
	NaN with boxes lc rgb '#777777' fs solid 0.85 border lc rgb '#000000' title lower, \
	NaN with boxes lc rgb '#777777' fs pattern 4 border lc rgb '#000000' title upper
