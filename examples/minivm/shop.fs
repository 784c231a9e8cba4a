\ shop.fs - a small shop for minivm: recursive pricing, strings on the heap,
\ and probes of its own, declared here and fired by the program.

provider fshop
probe order int64 string int64     \ order id, item, price in cents
probe restock string int64         \ item, units

: fib ( n -- fib[n] )  dup 2 < if else dup 1 - fib swap 2 - fib + then ;
: price ( id -- cents )  10 mod 15 + fib ;
: item ( id -- name )  3 mod dup 0 = if drop s" apple" else 1 = if s" pear" else s" plum" then then ;
: label ( id -- string )  dup item s"  #" concat swap n>s concat ;
: sell ( id -- )
	dup dup item over price      ( id id name cents )
	fire order                   ( id )
	label type cr ;
: restock-every ( id -- )  50 mod 0 = if s" apple" 100 fire restock then ;

\ Run for a while: a tracer started after us still sees plenty.
0 begin
	dup sell
	dup restock-every
	dup 25 mod 0 = if gc then
	1 +
	20 sleep
	dup 3000 =
until drop
