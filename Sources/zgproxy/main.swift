print("zgproxy")
