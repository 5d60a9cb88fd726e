# common.gp: what every plot shares: the output format, and one colour and marker per model.
# Loaded by each plot script. Variables set by scripts/plots.py on the command line:
#   fmt ('png' or 'svg'), out (the output file), ptitle, xlabel, ylabel.
#
# A model keeps its line type (colour and marker) on every plot: scripts/plots.py numbers the
# models in one fixed order (fork thread select epoll green, then any other) and passes that
# number. The colours are Okabe and Ito's, told apart by colour-blind readers too. The
# reference servers (nginx, Go) are grey and dashed, line types 9 and 10 whatever else runs.

if (fmt eq 'png') {
	set terminal pngcairo size 880,520 enhanced font 'Sans,11' linewidth 1.2
} else {
	set terminal svg size 880,520 dynamic enhanced font 'Sans,11' linewidth 1.2 background '#ffffff'
}
set output out

set linetype 1 lc rgb '#E69F00' lw 2 pt 7  ps 1.1   # fork: orange, circle
set linetype 2 lc rgb '#56B4E9' lw 2 pt 5  ps 1.0   # thread: sky blue, square
set linetype 3 lc rgb '#CC79A7' lw 2 pt 9  ps 1.2   # select: purple, triangle
set linetype 4 lc rgb '#0072B2' lw 2 pt 13 ps 1.3   # epoll: blue, diamond
set linetype 5 lc rgb '#009E73' lw 2 pt 11 ps 1.2   # green: green, triangle down
set linetype 6 lc rgb '#D55E00' lw 2 pt 15 ps 1.2   # any further model
set linetype 7 lc rgb '#000000' lw 2 pt 3  ps 1.2
set linetype 8 lc rgb '#F0E442' lw 2 pt 1  ps 1.2
# The reference servers, not ours: grey and dashed, behind the models' colours.
set linetype 9  lc rgb '#8c8c8c' lw 2 dt 2 pt 2  ps 1.1   # nginx (reference): grey, dashed, x
set linetype 10 lc rgb '#404040' lw 2 dt 4 pt 12 ps 1.2   # Go net/http (reference): dark grey, dash-dot
# Models beyond the eighth: darker colours, dashed.
set linetype 11 lc rgb '#882255' lw 2 dt 3 pt 5  ps 1.0
set linetype 12 lc rgb '#117733' lw 2 dt 3 pt 9  ps 1.2
set linetype 13 lc rgb '#332288' lw 2 dt 3 pt 13 ps 1.3
set linetype 14 lc rgb '#999933' lw 2 dt 3 pt 11 ps 1.2

set title ptitle
set xlabel xlabel
set ylabel ylabel
set grid ytics lc rgb '#dddddd' lt 1 lw 1
set border 3
set tics nomirror
set key outside right top noreverse samplen 2
