from overcast.cli import main

main()
